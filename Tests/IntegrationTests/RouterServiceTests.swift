import Foundation
import Router
import Testing
import Wire

/// What a fake gateway received from the router.
struct GatewayInbox: Sendable {
    var replies: [UInt32: String] = [:]
    var conversationEvents: [(conversation: String, sequence: UInt64, json: String)] = []
    var operatorEvents: [(op: String, json: String)] = []
    var established = false
}

/// A gateway stand-in: a Wire client that records what comes back.
final class FakeGateway: WirePeerDelegate, Sendable {
    let inbox = Shared(GatewayInbox())
    func peerDidEstablish(_ peer: WirePeer) { inbox.update { $0.established = true } }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        guard let message = try? WireMessage.decode(type: header.type, payload: payload) else { return }
        inbox.update { inbox in
            switch message {
            case .reply(let body): inbox.replies[header.correlationID] = String(decoding: body, as: UTF8.self)
            case .conversationEvent(let id, let sequence, let body):
                inbox.conversationEvents.append((id, sequence, String(decoding: body, as: UTF8.self)))
            case .operatorEvent(let op, let body): inbox.operatorEvents.append((op, String(decoding: body, as: UTF8.self)))
            default: break
            }
        }
    }
    func peerWritabilityChanged(_ peer: WirePeer) {}
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct RouterServiceTests {
    static let site = SiteConfiguration(
        id: "shop", departments: ["sales"],
        operators: [OperatorProfile(id: "shop/anna", site: "shop", displayName: "Anna", skills: ["sales": 3], maxChats: 2)])

    @Test func gatewayCommands_runOnTheRouter_withRepliesAndEvents_andNoCrossSiteAccess() throws {
        let routerGroup = EventLoopGroup(loopCount: 1, name: "router")
        let gatewayGroup = EventLoopGroup(loopCount: 1, name: "gateway")
        defer { routerGroup.shutdown(); gatewayGroup.shutdown() }
        let directory = NSTemporaryDirectory() + "switchboard-service-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let loop = routerGroup.loops[0]
        let node = try loop.submitAndWait {
            UncheckedBox(try RouterNode.open(loop: loop, directory: directory, sites: [Self.site], partitionCount: 8, seed: 5).0)
        }
        let service = try RouterService.start(node: node, group: routerGroup, address: loopback, configuration: wireConfiguration("router"))
        let address = try #require(try loop.submitAndWait { service.value.address })

        let gateway = FakeGateway()
        let gatewayLoop = gatewayGroup.loops[0]
        let client = try gatewayLoop.submitAndWait {
            let client = WireClient(loop: gatewayLoop, address: address, configuration: wireConfiguration("gw-1", role: .gateway), delegate: gateway)
            client.start()
            return UncheckedBox(client)
        }
        #expect(gateway.inbox.wait { $0.established })

        var correlation: UInt32 = 0
        /// Sends a command as `principal` and waits for the router's reply.
        func command(_ principal: Principal, session: UInt64, _ json: String) throws -> String {
            correlation += 1
            let id = correlation
            let body = Principal.encode(principal, command: Array(json.utf8))
            try gatewayLoop.submitAndWait {
                try client.value.peer?.send(.clientCommand(sessionID: session, conversationID: "", body: body), correlationID: id)
            }
            #expect(gateway.inbox.wait { $0.replies[id] != nil }, "no reply to \(json)")
            return gateway.inbox.read { $0.replies[id] ?? "" }
        }
        func field(_ json: String, _ name: String) -> Any? {
            (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?[name]
        }

        let anna = Principal(site: "shop", role: .operator, id: "anna")
        let maria = Principal(site: "shop", role: .visitor, id: "maria")
        #expect(field(try command(anna, session: 1, #"{"type":"hello","token":"verified-by-the-gateway"}"#), "type") as? String == "accepted")
        #expect(field(try command(anna, session: 1, #"{"type":"status","status":"online"}"#), "type") as? String == "accepted")
        let started = try command(maria, session: 2, #"{"type":"start","requestId":"r1","department":"sales"}"#)
        let conversation = try #require(field(started, "conversation") as? String)
        #expect(field(started, "requestId") as? String == "r1")
        #expect(gateway.inbox.wait { $0.operatorEvents.contains { $0.op == "shop/anna" && $0.json.contains("\"type\":\"offer\"") } })
        #expect(field(try command(anna, session: 1, #"{"type":"accept","conversation":"\#(conversation)"}"#), "type") as? String == "accepted")
        #expect(gateway.inbox.wait { $0.conversationEvents.contains { $0.json.contains("\"type\":\"assigned\"") } })
        let sent = try command(maria, session: 2, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"m1","text":"Where is my parcel?"}"#)
        let sequence = try #require(field(sent, "sequence") as? Int)
        #expect(gateway.inbox.wait { $0.operatorEvents.contains { $0.json.contains("Where is my parcel?") } })
        // The retry is idempotent.
        let retried = try command(maria, session: 2, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"m1","text":"Where is my parcel?"}"#)
        #expect(field(retried, "sequence") as? Int == sequence)

        // Nobody reaches across: another visitor, an operator of another site, a bad message.
        let intruder = Principal(site: "shop", role: .visitor, id: "mallory")
        #expect(field(try command(intruder, session: 3, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"x","text":"hi"}"#), "code") as? String == "unknown_conversation")
        let otherSite = Principal(site: "evil", role: .operator, id: "anna")
        #expect(field(try command(otherSite, session: 4, #"{"type":"end","conversation":"\#(conversation)"}"#), "code") as? String == "unknown_operator")
        #expect(field(try command(maria, session: 2, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"m9","text":"x","txt":"typo"}"#), "code") as? String == "unknown_field")
        #expect(field(try command(maria, session: 2, "{not json"), "code") as? String == "bad_json")

        // Resume from sequence 0 replays every stored event, in order.
        let before = gateway.inbox.read { $0.conversationEvents.count }
        #expect(field(try command(maria, session: 2, #"{"type":"resume","conversation":"\#(conversation)","after":0}"#), "type") as? String == "accepted")
        // The reply comes first; the replay follows on the same link.
        #expect(gateway.inbox.wait { $0.conversationEvents.count >= before + sequence })
        let replayed = gateway.inbox.read { Array($0.conversationEvents[before...]).map(\.sequence) }
        #expect(replayed == Array(1...UInt64(sequence)))

        // The operator's session closing disconnects the operator (their grace period starts).
        try gatewayLoop.submitAndWait { try client.value.peer?.send(.sessionClosed(sessionID: 1)) }
        // Frames on one link are handled in order: once a later command is answered, the close was handled.
        _ = try command(maria, session: 2, "{}")
        #expect(try loop.submitAndWait { node.value.core.homes["shop/anna"]?.connections } == 0)

        try gatewayLoop.submitAndWait { client.value.stop() }
        try loop.submitAndWait { service.value.close(); node.value.close() }
    }

}
