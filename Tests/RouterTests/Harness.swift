import Router

/// Router cores driven by a manual clock over an in-memory network: node `n` of `N` owns
/// the partitions `p` with `p % N == n` (and the homes placed on them). A command goes to
/// the node that owns its partition or home, as a gateway would send it; every message a
/// node sends is delivered, in order, before the command returns; timers fire when the
/// clock is advanced past them. Every effect is recorded for assertions. With one node
/// nothing crosses the network and `core` is that node.
struct Harness {
    var nodes: [RouterCore]
    var now: Instant = 1_000_000_000
    var effects: [RouterEffect] = []
    /// Messages delivered from one node to another so far.
    private(set) var crossNodeMessages = 0
    /// While set, messages between nodes wait in `held` (in order) instead of being
    /// delivered: what a slow network does. `deliverHeld` delivers them.
    var holding = false
    private var held: [(from: Int, message: RoutingMessage)] = []
    /// Whether any message is in flight.
    var messagesInFlight: Bool { !held.isEmpty }
    private var timers: [(at: Instant, node: Int, timer: RouterTimer)] = []
    private let seed: UInt64

    /// The node counts every routing rule is tested with: a router alone, and two routers
    /// splitting the partitions and homes.
    static let nodeCounts = [1, 2]

    init(settings: RoutingSettings = RoutingSettings(), operators: [OperatorProfile] = Harness.team, partitions: Int = 8,
         seed: UInt64 = 1, nodes nodeCount: Int = 1) {
        self.seed = seed
        let sites = [SiteConfiguration(id: "shop", departments: ["sales", "billing", "support"], operators: operators, settings: settings)]
        nodes = (0..<nodeCount).map { node in
            RouterCore(placement: Harness.placement(node: node, of: nodeCount, partitions: partitions), sites: sites, seed: seed &+ UInt64(node))
        }
    }

    /// Node `node`'s share of `partitions` when `count` nodes split them.
    static func placement(node: Int, of count: Int, partitions: Int) -> Placement {
        Placement(partitionCount: partitions, owned: Set((0..<partitions).filter { $0 % count == node }))
    }

    static let team = [
        op("anna", ["sales": 5, "billing": 2], max: 2),
        op("ben", ["sales": 2], max: 2),
        op("carl", ["billing": 4, "support": 3], max: 3),
    ]

    static func op(_ id: String, _ skills: [Skill: Int], max: Int) -> OperatorProfile {
        OperatorProfile(id: OperatorID(id), site: "shop", displayName: id.capitalized, skills: skills, maxChats: max)
    }

    /// The only node of a one-node harness.
    var core: RouterCore {
        get { precondition(nodes.count == 1, "a cluster harness has no single core"); return nodes[0] }
        set { precondition(nodes.count == 1, "a cluster harness has no single core"); nodes[0] = newValue }
    }

    /// The node owning `partition`.
    func owner(of partition: Int) -> Int { partition % nodes.count }

    // MARK: running

    /// Runs a closure on the only node (single-node tests of the core's own API).
    mutating func run<T>(_ body: (inout RouterCore, Instant, inout [RouterEffect]) throws(RouterError) -> T) throws(RouterError) -> T {
        var produced: [RouterEffect] = []
        let result = try body(&nodes[0], now, &produced)
        record(produced, from: 0)
        return result
    }

    /// Runs a command on the node that owns it, then delivers everything sent.
    @discardableResult
    mutating func execute(_ command: RouterCommand) throws(RouterError) -> CommandOutcome {
        let node = owner(of: command.partition(in: nodes[0].placement))
        var produced: [RouterEffect] = []
        let outcome = try nodes[node].execute(command, now: now, into: &produced)
        record(produced, from: node)
        return outcome
    }

    /// Every node recomputes its visitors' places in line.
    mutating func refreshQueuePositions() {
        for node in nodes.indices {
            var produced: [RouterEffect] = []
            nodes[node].refreshQueuePositions(into: &produced)
            record(produced, from: node)
        }
    }

    /// Records what `node` produced and delivers its messages (and what they cause) until
    /// the network is quiet.
    private mutating func record(_ produced: [RouterEffect], from node: Int) {
        var inFlight: [(from: Int, message: RoutingMessage)] = []
        collect(produced, from: node, &inFlight)
        // Links are in order: nothing new overtakes what is held.
        held += inFlight
        if !holding { deliverHeld() }
    }

    /// Delivers the oldest `count` held messages alone; what they cause is held behind the rest.
    mutating func deliverHeld(first count: Int) {
        let arriving = Array(held.prefix(count))
        held.removeFirst(arriving.count)
        deliver(arriving, cascade: false)
    }

    /// What is held, oldest first (for tests that pick their interleaving).
    var heldMessages: [RoutingMessage] { held.map(\.message) }

    /// Delivers every held message, and what they cause, until the network is quiet.
    mutating func deliverHeld() {
        let pending = held
        held = []
        deliver(pending, cascade: true)
    }

    /// Delivers `messages` in order; what they cause is delivered as well (`cascade`) or held
    /// behind the rest.
    private mutating func deliver(_ messages: [(from: Int, message: RoutingMessage)], cascade: Bool) {
        var inFlight = messages
        var next = 0
        while next < inFlight.count {
            let (sender, message) = inFlight[next]
            next += 1
            for target in recipients(of: message, from: sender) {
                crossNodeMessages += 1
                var more: [RouterEffect] = []
                nodes[target].receive(message, stamp: nodes[sender].placement.stamp(message), now: now, into: &more)
                if cascade {
                    collect(more, from: target, &inFlight)
                } else {
                    var caused: [(from: Int, message: RoutingMessage)] = []
                    collect(more, from: target, &caused)
                    held += caused
                }
            }
        }
    }

    private mutating func collect(_ produced: [RouterEffect], from node: Int, _ inFlight: inout [(from: Int, message: RoutingMessage)]) {
        for effect in produced {
            switch effect {
            case .schedule(let timer, let at): timers.append((at, node, timer))
            case .send(let message): inFlight.append((node, message))
            default: break
            }
        }
        effects += produced
    }

    private func recipients(of message: RoutingMessage, from sender: Int) -> [Int] {
        switch message.destination(nodes[sender].placement) {
        case .partition(let partition): [owner(of: partition)]
        case .home(let op): [owner(of: nodes[sender].placement.homePartition(of: op))]
        case .everyRouter: nodes.indices.filter { $0 != sender }
        }
    }

    /// Advances the clock by `nanoseconds`, firing due timers in time order.
    mutating func advance(_ nanoseconds: UInt64) {
        let target = now + nanoseconds
        while let next = timers.enumerated().filter({ $0.element.at <= target }).min(by: { $0.element.at < $1.element.at }) {
            timers.remove(at: next.offset)
            now = max(now, next.element.at)
            var produced: [RouterEffect] = []
            nodes[next.element.node].onTimer(next.element.timer, now: now, into: &produced)
            record(produced, from: next.element.node)
        }
        now = target
    }

    mutating func advance(seconds: UInt64) { advance(Nanos.seconds(seconds)) }

    /// Fresh nodes (same placement and sites) rebuilt from every record persisted so far,
    /// after recovery at the current time: what a restart of every router finds.
    func rebuilt() -> Harness {
        var fresh = self
        fresh.nodes = nodes.enumerated().map { node, core in
            RouterCore(placement: core.placement, sites: Array(core.sites.values), seed: seed &+ UInt64(node))
        }
        (fresh.effects, fresh.timers, fresh.crossNodeMessages) = ([], [], 0)
        for case .persist(let partition, let record) in effects { fresh.nodes[owner(of: partition)].replay(partition: partition, record) }
        for node in fresh.nodes.indices {
            var produced: [RouterEffect] = []
            fresh.nodes[node].finishRecovery(now: now, into: &produced)
            fresh.record(produced, from: node)
        }
        return fresh
    }

    /// Node `node` crashes and restarts alone, from the records its partitions persisted
    /// (in `persisted`, or the effects so far): its homes start empty, its timers are gone,
    /// and the other nodes go on. Nothing may be in flight.
    mutating func restart(node: Int, persisted: [RouterEffect]? = nil) {
        precondition(held.isEmpty, "a restart with messages in flight would lose them")
        let old = nodes[node]
        var fresh = RouterCore(placement: old.placement, sites: Array(old.sites.values), seed: seed &+ UInt64(node) &+ 1000)
        for case .persist(let partition, let record) in persisted ?? effects where owner(of: partition) == node {
            fresh.replay(partition: partition, record)
        }
        nodes[node] = fresh
        timers.removeAll { $0.node == node }
        var produced: [RouterEffect] = []
        nodes[node].finishRecovery(now: now, into: &produced)
        record(produced, from: node)
    }

    // MARK: commands

    /// Logs an operator in and sets them online.
    mutating func online(_ ids: String...) throws(RouterError) {
        for id in ids {
            try execute(.connect(OperatorID(id)))
            try execute(.setStatus(OperatorID(id), .online))
        }
    }

    mutating func start(_ visitor: String, _ department: Skill, level: Int = 1, priority: Int = 0) throws(RouterError) -> ConversationID {
        try execute(.start(site: "shop", visitor: VisitorID(visitor), department: department, profile: [:], question: nil,
                           requestID: "r", minimumLevel: level, priority: priority)).conversation!
    }

    /// Starts `count` chats that `op` accepts, so their slots are taken.
    @discardableResult
    mutating func fillSlots(_ op: String, _ count: Int, _ department: Skill) throws(RouterError) -> [ConversationID] {
        var ids: [ConversationID] = []
        for _ in 0..<count {
            let id = try start("busy-\(op)-\(now)-\(ids.count)", department)
            precondition(assigned(id) == OperatorID(op), "\(op) should have been offered \(id)")
            try accept(id, op)
            ids.append(id)
        }
        return ids
    }

    mutating func accept(_ id: ConversationID, _ op: String) throws(RouterError) { try execute(.accept(id, by: OperatorID(op))) }
    mutating func decline(_ id: ConversationID, _ op: String) throws(RouterError) { try execute(.decline(id, by: OperatorID(op))) }
    mutating func end(_ id: ConversationID, _ op: String) throws(RouterError) { try execute(.end(id, by: OperatorID(op))) }

    @discardableResult
    mutating func visitorSend(_ id: ConversationID, _ text: String, messageID: String = "m") throws(RouterError) -> UInt64 {
        try execute(.send(id, author: .visitor, clientMessageID: messageID, text: text)).sequence!
    }

    // MARK: reading across nodes

    /// A conversation, on whichever node owns it.
    func conversation(_ id: ConversationID) -> Conversation? {
        nodes[owner(of: nodes[0].partitionIndex(of: id))].conversation(id)
    }

    func state(_ id: ConversationID) -> ConversationState? { conversation(id)?.state }
    func assigned(_ id: ConversationID) -> OperatorID? { conversation(id)?.assignedOperator }

    /// Every operator's home, from the node that keeps it.
    var homes: [OperatorID: OperatorHome] {
        nodes.reduce(into: [:]) { all, node in all.merge(node.homes) { first, _ in first } }
    }

    func home(_ op: String) -> OperatorHome { homes[OperatorID(op)]! }

    /// Every partition, from the node that owns it, by index.
    var partitions: [Partition] {
        (0..<nodes[0].partitionCount).map { nodes[owner(of: $0)].partitions[$0] }
    }

    /// The open chat of every visitor of the shop.
    var openConversations: [VisitorID: ConversationID] {
        nodes.reduce(into: [:]) { all, node in all.merge(node.openConversations(site: "shop")) { first, _ in first } }
    }

    var settings: RoutingSettings { nodes[0].sites["shop"]!.settings }

    /// The conversations offered to `op`, in order, from the effects so far.
    func offers(to op: String) -> [ConversationID] {
        effects.compactMap {
            if case .toOperator(let target, .offer(let id, _, _, _)) = $0, target == OperatorID(op) { return id }
            return nil
        }
    }

    /// The latest queue notice each visitor got.
    func lastQueueNotice(_ id: ConversationID) -> (position: Int, wait: UInt64)? {
        for effect in effects.reversed() {
            if case .toVisitor(let target, .queued(let position, let wait)) = effect, target == id { return (position, wait) }
        }
        return nil
    }

    mutating func clearEffects() { effects.removeAll() }
}
