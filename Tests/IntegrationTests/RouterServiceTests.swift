import Foundation
import Router
import Testing
import Wire

/// What a fake gateway received from the router.
struct GatewayInbox: Sendable {
    var replies: [UInt32: String] = [:]
    var conversationEvents: [(conversation: String, sequence: UInt64, json: String)] = []
    var operatorEvents: [(op: String, json: String)] = []
    var sessionEvents: [(session: UInt64, json: String)] = []
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
            // Written as JSON, as the real gateway does for browsers.
            case .commandReply(let reply): inbox.replies[header.correlationID] = String(decoding: reply.json(), as: UTF8.self)
            case .conversationUpdate(let id, let sequence, let event):
                inbox.conversationEvents.append((id, sequence, String(decoding: event.json(), as: UTF8.self)))
            case .operatorUpdate(let op, let event): inbox.operatorEvents.append((op, String(decoding: event.json(), as: UTF8.self)))
            case .sessionUpdate(let session, let event): inbox.sessionEvents.append((session, String(decoding: event.json(), as: UTF8.self)))
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
        let service = try ServiceFixture(site: Self.site)
        defer { service.stop() }
        let (gateway, node, loop) = (service.gateway, service.node, service.routerLoop)
        func command(_ principal: Principal, session: UInt64, _ json: String) throws -> String { try service.command(principal, session: session, json) }
        func field(_ json: String, _ name: String) -> Any? { ServiceFixture.field(json, name) }

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
        // A misspelt field never reaches the router: the gateway's parser refuses it.
        #expect(throws: ClientProtocolError.self) {
            try ClientCommand.parse(Array(#"{"type":"send","conversation":"c","clientMessageId":"m9","text":"x","txt":"typo"}"#.utf8))
        }
        #expect(throws: ClientProtocolError.self) { try ClientCommand.parse(Array("{not json".utf8)) }

        // Resume from sequence 0 replays every stored event, in order, then says who holds
        // the chat (that notice is not stored, and the client may have missed it).
        let before = gateway.inbox.read { $0.conversationEvents.count }
        #expect(field(try command(maria, session: 2, #"{"type":"resume","conversation":"\#(conversation)","after":0}"#), "type") as? String == "accepted")
        // The reply comes first; the replay follows on the same link.
        #expect(gateway.inbox.wait { $0.conversationEvents.count >= before + sequence + 1 })
        let replayed = gateway.inbox.read { Array($0.conversationEvents[before...]) }
        #expect(replayed.map(\.sequence) == Array(1...UInt64(sequence)) + [0])
        #expect(replayed.last?.json == #"{"conversation":"\#(conversation)","operator":{"id":"anna","name":"Anna"},"type":"assigned"}"#)

        // The operator's session closing disconnects the operator (their grace period starts).
        try service.gatewayGroup.loops[0].submitAndWait { [client = service.client] in try client.value.peer?.send(.sessionClosed(sessionID: 1)) }
        // Frames on one link are handled in order: once a later command is answered, the close was handled.
        _ = try command(maria, session: 2, #"{"type":"departments"}"#)
        #expect(try loop.submitAndWait { node.value.core.homes["shop/anna"]?.connections } == 0)
    }

    @Test func widgetsFollowAvailability_invitationsReachTheVisitor_filesAndCannedResponsesAreKept() throws {
        let service = try ServiceFixture(site: Self.site)
        defer { service.stop() }
        func command(_ principal: Principal, session: UInt64, _ json: String) throws -> String { try service.command(principal, session: session, json) }
        func field(_ json: String, _ name: String) -> Any? { ServiceFixture.field(json, name) }
        let inbox = service.gateway.inbox
        let anna = Principal(site: "shop", role: .operator, id: "anna")
        let maria = Principal(site: "shop", role: .visitor, id: "maria")

        // A widget asks for the departments: nobody online yet; then live updates follow.
        #expect(try command(maria, session: 7, #"{"type":"departments"}"#) == #"{"items":[{"id":"sales","online":false}],"type":"departments"}"#)
        _ = try command(anna, session: 1, #"{"type":"hello","token":"verified"}"#)
        _ = try command(anna, session: 1, #"{"type":"status","status":"online"}"#)
        #expect(inbox.wait { $0.sessionEvents.contains { $0.session == 7 && $0.json.contains(#""online":true"#) } })
        _ = try command(anna, session: 1, #"{"type":"status","status":"away"}"#)
        #expect(inbox.wait { $0.sessionEvents.last { $0.session == 7 }?.json.contains(#""online":false"#) == true })

        // An invitation reaches every open widget of that visitor, and no one else's.
        #expect(field(try command(anna, session: 1, #"{"type":"invite","visitor":"nobody"}"#), "code") as? String == "not_found")
        #expect(field(try command(anna, session: 1, #"{"type":"invite","visitor":"maria","text":"Need help?"}"#), "type") as? String == "accepted")
        #expect(inbox.wait { $0.sessionEvents.contains { $0.session == 7 && $0.json.contains(#""type":"invitation""#) && $0.json.contains("Need help?") } })

        // Files: stored, recorded with a sequence, served to the conversation's visitor only.
        _ = try command(anna, session: 1, #"{"type":"status","status":"online"}"#)
        let conversation = try #require(field(try command(maria, session: 7, #"{"type":"start","requestId":"r","department":"sales"}"#), "conversation") as? String)
        let data = Base64.encode(Array("hello file".utf8))
        let attach = #"{"type":"attach","conversation":"\#(conversation)","clientMessageId":"f1","name":"a.txt","contentType":"text/plain","data":"\#(data)"}"#
        let stored = try command(maria, session: 7, attach)
        let sequence = try #require(field(stored, "sequence") as? Int)
        #expect(field(try command(maria, session: 7, attach), "sequence") as? Int == sequence, "a retried upload is stored once")
        let event = try #require(inbox.read { $0.conversationEvents.first { $0.sequence == UInt64(sequence) }?.json })
        let fileID = try #require((ServiceFixture.field(event, "attachment") as? [String: Any])?["id"] as? String)
        let served = try command(maria, session: 7, #"{"type":"attachment","conversation":"\#(conversation)","id":"\#(fileID)"}"#)
        #expect(field(served, "data") as? String == data && field(served, "contentType") as? String == "text/plain")
        let mallory = Principal(site: "shop", role: .visitor, id: "mallory")
        #expect(field(try command(mallory, session: 9, #"{"type":"attachment","conversation":"\#(conversation)","id":"\#(fileID)"}"#), "code") as? String == "unknown_conversation")
        #expect(field(try command(maria, session: 7, #"{"type":"attachment","conversation":"\#(conversation)","id":"../../canned.json"}"#), "code") as? String == "not_found")

        // Canned responses: personal for operators, site-wide for admins only; durable.
        #expect(field(try command(anna, session: 1, #"{"type":"saveCanned","shortcut":"hi","text":"Hello!","scope":"site"}"#), "code") as? String == "forbidden")
        #expect(field(try command(anna, session: 1, #"{"type":"saveCanned","shortcut":"hi","text":"Hi, I'm Anna","scope":"personal"}"#), "type") as? String == "accepted")
        let admin = Principal(site: "shop", role: .admin, id: "anna")
        #expect(field(try command(admin, session: 2, #"{"type":"saveCanned","shortcut":"hi","text":"Hello!","scope":"site"}"#), "type") as? String == "accepted")
        #expect(field(try command(admin, session: 2, #"{"type":"saveCanned","shortcut":"bye","text":"Bye!","scope":"site"}"#), "type") as? String == "accepted")
        #expect(try command(anna, session: 1, #"{"type":"canned"}"#)
            == #"{"items":[{"scope":"personal","shortcut":"hi","text":"Hi, I'm Anna"},{"scope":"site","shortcut":"bye","text":"Bye!"}],"type":"canned"}"#)
        #expect(field(try command(admin, session: 2, #"{"type":"deleteCanned","shortcut":"nope","scope":"site"}"#), "code") as? String == "not_found")
        let reopened = try CannedStore(directory: service.directory)
        #expect(reopened.responses.visible(site: "shop", operator: "ben").map(\.shortcut) == ["bye", "hi"])
    }
}

extension RouterServiceTests {
    /// Review finding (issue 10): a chat leaves memory a minute after it ends; a widget that
    /// was away longer got `unknown_conversation` on resume and never saw the operator's
    /// last reply or the end. Resume now replays an archived chat from the store.
    @Test func aWidgetResumingAChatThatLeftMemory_stillGetsTheRestOfIt() throws {
        let service = try ServiceFixture(site: Self.site)
        defer { service.stop() }
        func command(_ principal: Principal, session: UInt64, _ json: String) throws -> String { try service.command(principal, session: session, json) }
        func field(_ json: String, _ name: String) -> Any? { ServiceFixture.field(json, name) }
        let anna = Principal(site: "shop", role: .operator, id: "anna")
        let maria = Principal(site: "shop", role: .visitor, id: "maria")
        _ = try command(anna, session: 1, #"{"type":"hello","token":"verified"}"#)
        _ = try command(anna, session: 1, #"{"type":"status","status":"online"}"#)
        let conversation = try #require(field(try command(maria, session: 2, #"{"type":"start","requestId":"r","department":"sales"}"#), "conversation") as? String)
        _ = try command(anna, session: 1, #"{"type":"accept","conversation":"\#(conversation)"}"#)
        let asked = try #require(field(try command(maria, session: 2, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"m1","text":"Is it in stock?"}"#), "sequence") as? Int)
        _ = try command(anna, session: 1, #"{"type":"send","conversation":"\#(conversation)","clientMessageId":"o1","text":"Yes, two left."}"#)
        _ = try command(anna, session: 1, #"{"type":"end","conversation":"\#(conversation)"}"#)
        let (node, loop) = (service.node, service.routerLoop)
        let archived = Shared<Bool>(false)
        _ = try loop.submitAndWait { node.value.archive(closedFor: 0) { _ in archived.update { $0 = true } } }
        #expect(archived.wait { $0 })
        #expect(try loop.submitAndWait { node.value.core.conversation(ConversationID(conversation)) } == nil, "the chat left memory")
        let before = service.gateway.inbox.read { $0.conversationEvents.count }
        #expect(field(try command(maria, session: 3, #"{"type":"resume","conversation":"\#(conversation)","after":\#(asked)}"#), "type") as? String == "accepted")
        #expect(service.gateway.inbox.wait { $0.conversationEvents.count > before && $0.conversationEvents.last?.json.contains(#""type":"ended""#) == true })
        let replayed = service.gateway.inbox.read { $0.conversationEvents[before...].map(\.json) }
        #expect(replayed.contains { $0.contains("Yes, two left.") } && !replayed.contains { $0.contains("Is it in stock?") },
                "events after the one given, from the transcript store")
        let mallory = Principal(site: "shop", role: .visitor, id: "mallory")
        #expect(field(try command(mallory, session: 4, #"{"type":"resume","conversation":"\#(conversation)","after":0}"#), "code") as? String == "unknown_conversation",
                "an archived chat is still only its visitor's")

        // And it can still be rated, once, by its visitor only; the rating is stored.
        #expect(field(try command(mallory, session: 4, #"{"type":"rate","conversation":"\#(conversation)","score":1}"#), "code") as? String == "unknown_conversation")
        #expect(field(try command(maria, session: 3, #"{"type":"rate","conversation":"\#(conversation)","score":5,"comment":"Quick!"}"#), "type") as? String == "accepted")
        #expect(field(try command(maria, session: 3, #"{"type":"rate","conversation":"\#(conversation)","score":4}"#), "code") as? String == "invalid_message",
                "rated already")
        let stored = try loop.submitAndWait { try node.value.conversation(ConversationID(conversation)) }
        #expect(stored?.rating == Rating(score: 5, comment: "Quick!") && stored?.events.isEmpty == false)
    }
}

/// A router node and its service on real sockets, with a fake gateway linked to it.
final class ServiceFixture {
    let routerGroup = EventLoopGroup(loopCount: 1, name: "router")
    let gatewayGroup = EventLoopGroup(loopCount: 1, name: "gateway")
    let directory = NSTemporaryDirectory() + "switchboard-service-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let node: UncheckedBox<RouterNode>
    let service: UncheckedBox<RouterService>
    let gateway = FakeGateway()
    let client: UncheckedBox<WireClient>
    var routerLoop: EventLoop { routerGroup.loops[0] }
    private var correlation: UInt32 = 0

    init(site: SiteConfiguration) throws {
        let loop = routerGroup.loops[0]
        let directory = directory
        node = try loop.submitAndWait {
            UncheckedBox(try RouterNode.open(loop: loop, directory: directory, sites: [site], partitionCount: 8, seed: 5).0)
        }
        service = try RouterService.start(node: node, group: routerGroup, address: loopback, configuration: wireConfiguration("router"))
        let service = service
        guard let address = try loop.submitAndWait({ service.value.address }) else { throw WireError.invalidField("no address") }
        let gatewayLoop = gatewayGroup.loops[0]
        let gateway = gateway
        client = try gatewayLoop.submitAndWait {
            let client = WireClient(loop: gatewayLoop, address: address, configuration: wireConfiguration("gw-1", role: .gateway), delegate: gateway)
            client.start()
            return UncheckedBox(client)
        }
        #expect(gateway.inbox.wait { $0.established })
    }

    /// Sends a command (client JSON, parsed as the gateway parses it) as `principal` and
    /// waits for the router's reply.
    func command(_ principal: Principal, session: UInt64, _ json: String) throws -> String {
        correlation += 1
        let id = correlation
        let command = try ClientCommand.parse(Array(json.utf8), maxBytes: ClientCommand.maxAttachCommandBytes)
        try gatewayGroup.loops[0].submitAndWait { [client] in
            try client.value.peer?.send(.command(sessionID: session, principal: principal, command: command), correlationID: id)
        }
        #expect(gateway.inbox.wait { $0.replies[id] != nil }, "no reply to \(json)")
        return gateway.inbox.read { $0.replies[id] ?? "" }
    }

    static func field(_ json: String, _ name: String) -> Any? {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?[name]
    }

    func stop() {
        try? gatewayGroup.loops[0].submitAndWait { [client] in client.value.stop() }
        try? routerGroup.loops[0].submitAndWait { [service, node] in service.value.close(); node.value.close() }
        routerGroup.shutdown()
        gatewayGroup.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
