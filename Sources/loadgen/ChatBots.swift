import Foundation
import Wire

/// A load message: its text is "<counter> <send time> hello".
func parseLoadText(_ conversation: String, _ sequence: Int64, _ text: String) -> (conversation: String, counter: Int, sequence: Int, sentAt: UInt64)? {
    let parts = text.split(separator: " ")
    guard parts.count >= 2, let counter = Int(parts[0]), let sentAt = UInt64(parts[1]) else { return nil }
    return (conversation, counter, Int(sequence), sentAt)
}

/// An operator who accepts every offer (after the world's accept delay), writes in each
/// chat, and checks what the visitors write.
final class OperatorBot: WebSocketClientDelegate {
    private unowned let world: ChatWorld
    private let token: String
    private let address: SocketAddress
    private let seed: UInt64
    var client: WebSocketClient?
    private var onlineReported = false
    private var accepting: Set<String> = []

    init(world: ChatWorld, token: String, address: SocketAddress, seed: UInt64) {
        (self.world, self.token, self.address, self.seed) = (world, token, address, seed)
    }

    func connect(loop: EventLoop) {
        client = WebSocketClient.open(to: address, seed: seed, delegate: self, on: loop)
    }

    func webSocketDidOpen(_ client: WebSocketClient) {
        client.send(.hello(token: token, site: nil))
    }

    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent) {
        switch event {
        case .welcome:
            client.send(.setStatus(.online))
        case .accepted(let requestID, let conversation, _):
            if let messageID = requestID {
                world.answered(messageID, side: .operator, refusal: nil, on: client)
            } else if let conversation, accepting.remove(conversation) != nil {
                world.sideActive(conversation, .operator, client: client)
            } else if conversation == nil, !onlineReported {
                onlineReported = true
                world.operatorOnline()
            }
        case .offer(let conversation, _, _, _, _, _, _):
            world.offerReceived(conversation)
            accepting.insert(conversation)
            let accept: () -> Void = { [weak client] in client?.send(.accept(conversation: conversation)) }
            if world.acceptDelay == 0 { accept() } else { world.loop.scheduleTimer(at: world.loop.now + world.acceptDelay, accept) }
        case .event(let conversation, let sequence, _, .visitor, .message, let text, _):
            guard let m = parseLoadText(conversation, sequence, text) else { return }
            world.received(m.conversation, from: .visitor, counter: m.counter, sequence: m.sequence, sentAt: m.sentAt)
        case .ended(let conversation):
            world.sideClosing(conversation, .operator)
        case .error(let code, _, let requestID):
            world.refused(code: code, requestID: requestID, side: .operator, on: client)
        default:
            break
        }
    }

    func webSocketDidClose(_ client: WebSocketClient) {
        world.connectionClosed()
    }
}

/// A visitor who starts a chat, writes once it is active, checks what the operator
/// writes, and (with a chat length) leaves and starts a new chat.
final class VisitorBot: WebSocketClientDelegate {
    private unowned let world: ChatWorld
    private let address: SocketAddress
    private let seed: UInt64
    var client: WebSocketClient?
    private(set) var conversation: String?
    private var chats = 0
    private var startSentAt: UInt64 = 0
    private let firstDepartment: Int

    init(world: ChatWorld, address: SocketAddress, seed: UInt64, firstDepartment: Int) {
        (self.world, self.address, self.seed, self.firstDepartment) = (world, address, seed, firstDepartment)
    }

    func connect(loop: EventLoop) {
        client = WebSocketClient.open(to: address, seed: seed, delegate: self, on: loop)
    }

    func webSocketDidOpen(_ client: WebSocketClient) {
        client.send(.hello(token: nil, site: "shop"))
    }

    private func start(_ client: WebSocketClient) {
        chats += 1
        conversation = nil
        startSentAt = MonotonicClock.now()
        let department = world.departments[(firstDepartment + chats - 1) % world.departments.count]
        client.send(.start(requestID: "chat-\(chats)", department: department, name: nil, email: nil, question: nil))
    }

    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent) {
        switch event {
        case .welcome:
            start(client)
        case .accepted(let request?, let id, _):
            if request == "chat-\(chats)", let id {
                conversation = id
                world.chatStarted(id, sentAt: startSentAt)
            } else {
                world.answered(request, side: .visitor, refusal: nil, on: client)
            }
        case .assigned(let id, _, _):
            guard id == conversation else { return }
            world.sideActive(id, .visitor, client: client)
        case .event(let conversation, let sequence, _, .operator, .message, let text, _):
            guard let m = parseLoadText(conversation, sequence, text) else { return }
            world.received(m.conversation, from: .operator, counter: m.counter, sequence: m.sequence, sentAt: m.sentAt)
        case .ended(let id):
            guard id == conversation else { return }
            if world.sending { start(client) }
        case .error(let code, _, let requestID):
            world.refused(code: code, requestID: requestID, side: .visitor, on: client)
        default:
            break
        }
    }

    func webSocketDidClose(_ client: WebSocketClient) {
        world.connectionClosed()
    }
}
