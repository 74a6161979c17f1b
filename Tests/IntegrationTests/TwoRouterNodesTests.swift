import Foundation
import Router
import Testing
import Wire

/// Carries `RoutingMessage`s between router nodes in one process, each onto its target's
/// loop, in the order they were sent. A message for a node not attached yet (still
/// recovering) waits for it.
final class InMemoryRouterNetwork: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = NSLock()
    private let placements: [Placement]
    private var nodes: [Int: (loop: EventLoop, node: UncheckedBox<RouterNode>)] = [:]
    private var waiting: [Int: [(RoutingMessage, RoutingStamp)]] = [:]
    private var count = 0

    init(placements: [Placement]) {
        self.placements = placements
    }

    /// Messages carried so far.
    var delivered: Int { lock.withLock { count } }

    /// The `send` hook of node `index`.
    func sender(from index: Int) -> (RoutingMessage, RoutingStamp) -> Void {
        { [self] message, stamp in
            for target in targets(of: message, from: index) { deliver((message, stamp), to: target) }
        }
    }

    /// Node `index` is open: it gets what waited for it, then everything sent to it.
    func attach(_ index: Int, loop: EventLoop, node: UncheckedBox<RouterNode>) {
        lock.withLock {
            nodes[index] = (loop, node)
            for message in waiting.removeValue(forKey: index) ?? [] { post(message, to: (loop, node)) }
        }
    }

    private func targets(of message: RoutingMessage, from sender: Int) -> [Int] {
        switch message.destination(placements[sender]) {
        case .partition(let partition): placements.indices.filter { placements[$0].owns(partition: partition) }
        case .home(let op): placements.indices.filter { placements[$0].ownsHome(of: op) }
        case .everyRouter: placements.indices.filter { $0 != sender }
        }
    }

    private func deliver(_ message: (RoutingMessage, RoutingStamp), to target: Int) {
        lock.withLock {
            if let node = nodes[target] { post(message, to: node) } else { waiting[target, default: []].append(message) }
        }
    }

    /// Under `lock`, so two messages on one link are posted in the order they were sent.
    private func post(_ message: (RoutingMessage, RoutingStamp), to node: (loop: EventLoop, node: UncheckedBox<RouterNode>)) {
        count += 1
        node.loop.execute { node.node.value.receive(message.0, stamp: message.1) }
    }
}

/// Two `RouterNode`s, each with its own loop and data directory and half the partitions and
/// operator homes, over `InMemoryRouterNetwork`: a chat on one is served by an operator whose
/// home is on the other, and both restart into the same state.
@Suite(.serialized, .timeLimit(.minutes(1))) struct TwoRouterNodesTests {
    static let partitions = 8
    static let site = SiteConfiguration(
        id: "shop", departments: ["sales"],
        operators: [OperatorProfile(id: "anna", site: "shop", displayName: "Anna", skills: ["sales": 3], maxChats: 2)])
    static let placements = (0..<2).map { node in
        Placement(partitionCount: partitions, owned: Set((0..<partitions).filter { $0 % 2 == node }))
    }

    /// Opens both nodes from `directories`, attached to a fresh network.
    func open(_ directories: [String], loops: [EventLoop], recorders: [NoticeRecorder]) throws -> ([UncheckedBox<RouterNode>], InMemoryRouterNetwork) {
        let network = InMemoryRouterNetwork(placements: Self.placements)
        var nodes: [UncheckedBox<RouterNode>] = []
        for index in 0..<2 {
            let node = try loops[index].submitAndWait {
                let (node, _) = try RouterNode.open(loop: loops[index], directory: directories[index], sites: [Self.site],
                                                    partitionCount: Self.partitions, owned: Set(Self.placements[index].ownedPartitions),
                                                    seed: UInt64(index), send: network.sender(from: index))
                node.delegate = recorders[index]
                return UncheckedBox(node)
            }
            network.attach(index, loop: loops[index], node: node)
            nodes.append(node)
        }
        return (nodes, network)
    }

    func execute(_ node: UncheckedBox<RouterNode>, on loop: EventLoop, _ command: RouterCommand) throws -> CommandOutcome {
        let result = Shared<Result<CommandOutcome, RouterError>?>(nil)
        try loop.submitAndWait { node.value.execute(command) { reply in result.update { $0 = reply } } }
        #expect(result.wait { $0 != nil })
        return try result.read { $0! }.get()
    }

    @Test func aChatOnOneRouter_isServedFromAHomeOnTheOther_andBothRestartIntoTheSameState() throws {
        let group = EventLoopGroup(loopCount: 2, name: "routers")
        defer { group.shutdown() }
        let loops = group.loops
        let base = NSTemporaryDirectory() + "switchboard-two-routers-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let directories = ["\(base)/a", "\(base)/b"]
        let recorders = [NoticeRecorder(), NoticeRecorder()]
        let (nodes, network) = try open(directories, loops: loops, recorders: recorders)

        let home = Self.placements.firstIndex { $0.ownsHome(of: "anna") }!
        let chats = 1 - home
        let visitor = (0...).lazy.map { VisitorID("v\($0)") }
            .first { Self.placements[chats].owns(partition: Self.placements[chats].partition(ofVisitor: $0, site: "shop")) }!
        // A router refuses what another owns, and changes nothing.
        #expect(throws: RouterError.self) { try execute(nodes[chats], on: loops[chats], .connect("anna")) }

        try execute(nodes[home], on: loops[home], .connect("anna"))
        try execute(nodes[home], on: loops[home], .setStatus("anna", .online))
        // The chat's router learns of Anna from her home's availability before it can choose her.
        #expect(Shared(0).wait { _ in
            (try? loops[chats].submitAndWait { nodes[chats].value.core.availability.summaries["anna"]?.available }) == true
        })
        let id = try execute(nodes[chats], on: loops[chats], .start(site: "shop", visitor: visitor, department: "sales", profile: [:],
                                                                   question: nil, requestID: "r1")).conversation!
        // The offer goes out from the chat's router once Anna's home granted the slot.
        #expect(recorders[chats].operators.wait { notices in
            notices.contains { if case .offer(id, _, _, _) = $0.1 { $0.0 == "anna" } else { false } }
        })
        try execute(nodes[chats], on: loops[chats], .accept(id, by: "anna"))
        let sequence = try execute(nodes[chats], on: loops[chats], .send(id, author: .operator("anna"), clientMessageID: "a1", text: "Hello!")).sequence!
        #expect(try loops[home].submitAndWait { nodes[home].value.core.homes["anna"]?.held } == [id])
        #expect(network.delivered > 0)
        for index in 0..<2 { try loops[index].submitAndWait { nodes[index].value.close() } }

        // Both restart from their directories: the chat is back on its router, and its
        // recovery tells Anna's home, on the other router, that she still has it.
        let (reopened, _) = try open(directories, loops: loops, recorders: [NoticeRecorder(), NoticeRecorder()])
        let recovered = try loops[chats].submitAndWait { reopened[chats].value.core.conversation(id) }
        #expect(recovered?.state == .active && recovered?.assignedOperator == "anna" && recovered?.events.last?.sequence == sequence)
        #expect(try loops[home].submitAndWait { reopened[home].value.core.conversation(id) } == nil, "the other router has no copy")
        #expect(Shared(0).wait { _ in
            (try? loops[home].submitAndWait { reopened[home].value.core.homes["anna"]?.held }) == [id]
        })
        for index in 0..<2 { try loops[index].submitAndWait { reopened[index].value.close() } }
    }

    /// Presence by gossip, the router's side: what a home publishes (`onPublished`, in the
    /// bytes gossip carries) makes the other router see the operator online; the same
    /// router's own homes are not overruled; a home that is gone takes the operator offline.
    @Test func aSummaryHeardByGossip_showsTheOperatorOnlineElsewhere_andAGoneHomeTakesThemOffline() throws {
        let group = EventLoopGroup(loopCount: 2, name: "routers")
        defer { group.shutdown() }
        let loops = group.loops
        let base = NSTemporaryDirectory() + "switchboard-gossiped-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let nodes = try (0..<2).map { index in
            try loops[index].submitAndWait {
                // No network between them: only what the test carries as gossip would.
                let (node, _) = try RouterNode.open(loop: loops[index], directory: "\(base)/\(index)", sites: [Self.site],
                                                    partitionCount: Self.partitions, owned: Set(Self.placements[index].ownedPartitions), seed: UInt64(index))
                return UncheckedBox(node)
            }
        }
        let home = Self.placements.firstIndex { $0.ownsHome(of: "anna") }!
        let other = 1 - home
        let published = Shared<[[UInt8]]>([])
        try loops[home].submitAndWait { nodes[home].value.onPublished = { summary in published.update { $0.append(OperatorSummaryCodec.encode(summary)) } } }
        try execute(nodes[home], on: loops[home], .connect("anna"))
        try execute(nodes[home], on: loops[home], .setStatus("anna", .online))
        let online = try #require(published.read { $0 }.compactMap { try? OperatorSummaryCodec.decode($0) }.last)
        #expect(online.online && online.status == .online && online.consoles == 1 && online.freeSlots == 2)
        func othersView() throws -> (online: Bool, summary: OperatorSummary?) {
            try loops[other].submitAndWait {
                (nodes[other].value.core.anyoneOnline(site: "shop", skill: "sales"), nodes[other].value.core.availability.summaries["anna"])
            }
        }
        #expect(try othersView().online == false, "nothing heard yet")
        try loops[other].submitAndWait { nodes[other].value.receiveGossiped(online) }
        #expect(Shared(0).wait { _ in (try? othersView().online) == true })
        #expect(try othersView().summary?.available == true)
        // An echo of the other router's own belief is no news to the home itself.
        var stale = online
        (stale.online, stale.available, stale.version) = (false, false, online.version + 10)
        let echo = stale
        try loops[home].submitAndWait { nodes[home].value.receiveGossiped(echo) }
        #expect(try loops[home].submitAndWait { nodes[home].value.core.availability.summaries["anna"]?.online } == true)
        // Her home's router is gone: she is offline there.
        try loops[other].submitAndWait { nodes[other].value.forgetGossiped(online) }
        #expect(Shared(0).wait { _ in (try? othersView().online) == false })
        for index in 0..<2 { try loops[index].submitAndWait { nodes[index].value.close() } }
    }
}
