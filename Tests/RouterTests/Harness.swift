import Router
import Wire

/// Router cores driven by a manual clock over an in-memory network: node `n` of `N` owns
/// the partitions `p` with `p % N == n` (and the homes placed on them). A command goes to
/// the node that owns its partition or home, as a gateway would send it; timers fire when
/// the clock is advanced past them. Every effect is recorded for assertions. With one node
/// nothing crosses the network and `core` is that node.
///
/// Without `network`, every message a node sends is delivered, in order, before the command
/// returns (unless `holding`). With it, messages travel as `Network` says (delayed, reordered
/// between links, links reset) and arrive only as `tick` or `settle` moves the network on.
struct Harness {
    var nodes: [RouterCore]
    var now: Instant = 1_000_000_000
    var effects: [RouterEffect] = []
    /// Messages delivered from one node to another so far (one per receiver).
    private(set) var crossNodeMessages = 0
    /// While set (and without `network`), messages between nodes wait in flight instead of
    /// being delivered: what a slow network does. `deliverHeld` delivers them.
    var holding = false
    /// How messages between nodes travel; nil: at once, in order.
    var network: Network?
    /// Whether any message is in flight.
    var messagesInFlight: Bool { links.contains { !$0.isEmpty } }
    /// Network steps so far (`tick`), link resets, and the messages they lost.
    private(set) var networkSteps = 0
    private(set) var linkResets = 0
    private(set) var lostMessages = 0
    /// What is in flight on each link (sender → receiver, at `sender * nodes.count + receiver`),
    /// oldest first.
    private var links: [[Packet]]
    private var sentPackets = 0
    private var networkRNG: SplitMix64
    private var timers: [(at: Instant, node: Int, timer: RouterTimer)] = []
    private let seed: UInt64

    /// How the in-memory network treats messages between nodes, all drawn from a generator
    /// seeded with the harness's seed. Per-link order is the default because real links are
    /// TCP (in order per direction): reordering then happens only between different links.
    struct Network {
        /// Each message waits 0 to `maxDelay` network steps before it may arrive.
        var maxDelay = 0
        /// Whether a link delivers in the order it was given messages (TCP). Off, any message
        /// may overtake any other on its link, which no real link does: queue heads carry no
        /// version, so directories go wrong within a few hundred steps (a probe, not a mode
        /// the routers must pass).
        var inOrder = true
        /// The chance in a thousand, per network step, that one link with messages in flight
        /// resets (`resetLink(from:to:)`): those messages are lost, and both ends tell
        /// everything again. TCP loses nothing else, so a reset is the only loss modelled.
        var resetsPerThousand = 0
    }

    /// One message on one link.
    private struct Packet {
        var sequence: Int
        var receiver: Int
        var message: RoutingMessage
        var stamp: RoutingStamp
        /// The network step from which it may arrive.
        var due: Int
    }

    /// The node counts every routing rule is tested with: a router alone, and two routers
    /// splitting the partitions and homes.
    static let nodeCounts = [1, 2]

    init(settings: RoutingSettings = RoutingSettings(), operators: [OperatorProfile] = Harness.team, partitions: Int = 8,
         seed: UInt64 = 1, nodes nodeCount: Int = 1) {
        self.seed = seed
        links = Array(repeating: [], count: nodeCount * nodeCount)
        networkRNG = SplitMix64(seed: seed ^ 0x6E65_7477_6F72_6B00)
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

    /// Runs a command on the node that owns it; what it sends travels as `record` says.
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

    /// Records what `node` produced and, without `network` or `holding`, delivers its messages
    /// (and what they cause) until the network is quiet.
    private mutating func record(_ produced: [RouterEffect], from node: Int) {
        collect(produced, from: node)
        if network == nil && !holding { deliverHeld() }
    }

    /// What is in flight, oldest first (for tests that pick their interleaving): a message to
    /// every router once per receiver.
    var heldMessages: [RoutingMessage] { inFlightBySequence.map(\.message) }

    private var inFlightBySequence: [Packet] { links.joined().sorted { $0.sequence < $1.sequence } }

    /// Delivers the oldest `count` messages in flight alone; what they cause is held behind the rest.
    mutating func deliverHeld(first count: Int) {
        let arriving = Array(inFlightBySequence.prefix(count))
        let sequences = Set(arriving.map(\.sequence))
        for link in links.indices { links[link].removeAll { sequences.contains($0.sequence) } }
        for packet in arriving { deliver(packet) }
    }

    /// Delivers everything in flight, oldest first, and what it causes, until the network is quiet.
    mutating func deliverHeld() {
        while let link = links.indices.filter({ !links[$0].isEmpty }).min(by: { links[$0][0].sequence < links[$1][0].sequence }) {
            deliver(links[link].removeFirst())
        }
    }

    /// One network step: a link may reset, then whatever is due arrives, links taken in a
    /// random order (and, out of order, messages within a link too); what arrives causes more,
    /// which arrives in this step too if its delay is 0.
    mutating func tick() {
        guard let network else { return deliverHeld() }
        networkSteps += 1
        if network.resetsPerThousand > 0, Int.random(in: 0..<1000, using: &networkRNG) < network.resetsPerThousand {
            resetLink()
        }
        while true {
            var due: [(link: Int, index: Int)] = []
            for link in links.indices {
                if network.inOrder {
                    if let head = links[link].first, head.due <= networkSteps { due.append((link, 0)) }
                } else {
                    for (index, packet) in links[link].enumerated() where packet.due <= networkSteps { due.append((link, index)) }
                }
            }
            guard let (link, index) = due.randomElement(using: &networkRNG) else { return }
            deliver(links[link].remove(at: index))
        }
    }

    /// Moves the network on until nothing is in flight (no link resets meanwhile: the
    /// network has calmed down).
    mutating func settle() {
        guard let conditions = network else { return deliverHeld() }
        network!.resetsPerThousand = 0
        while messagesInFlight { tick() }
        network = conditions
    }

    /// A random link with messages in flight resets.
    private mutating func resetLink() {
        guard let link = links.indices.filter({ !links[$0].isEmpty }).randomElement(using: &networkRNG) else { return }
        resetLink(from: link / nodes.count, to: link % nodes.count)
    }

    /// The link from `sender` to `receiver` loses what is in flight on it and reconnects, as
    /// `RouterLinks` does: the sender's `resync` opens the new connection, ahead of whatever
    /// it sends next (the receiver tells everything again), and the sender tells everything
    /// too (its `onEstablished`, which `ClusterRouting` answers with a `resync` of its own).
    mutating func resetLink(from sender: Int, to receiver: Int) {
        let link = sender * nodes.count + receiver
        linkResets += 1
        lostMessages += links[link].count
        links[link] = []
        enqueue(.resync, stamp: RoutingStamp(sourceEpoch: 0, targetEpoch: 0), from: sender, to: receiver)
        var produced: [RouterEffect] = []
        nodes[sender].receive(.resync, now: now, into: &produced)
        collect(produced, from: sender)
    }

    private mutating func deliver(_ packet: Packet) {
        crossNodeMessages += 1
        var more: [RouterEffect] = []
        nodes[packet.receiver].receive(packet.message, stamp: packet.stamp, now: now, into: &more)
        collect(more, from: packet.receiver)
    }

    /// Records effects; messages go in flight, stamped now with the sender's epochs.
    private mutating func collect(_ produced: [RouterEffect], from node: Int) {
        for effect in produced {
            switch effect {
            case .schedule(let timer, let at): timers.append((at, node, timer))
            case .send(let message):
                let stamp = nodes[node].placement.stamp(message)
                for receiver in recipients(of: message, from: node) { enqueue(message, stamp: stamp, from: node, to: receiver) }
            default: break
            }
        }
        effects += produced
    }

    private mutating func enqueue(_ message: RoutingMessage, stamp: RoutingStamp, from sender: Int, to receiver: Int) {
        let delay = network.map { Int.random(in: 0...$0.maxDelay, using: &networkRNG) } ?? 0
        sentPackets += 1
        links[sender * nodes.count + receiver].append(
            Packet(sequence: sentPackets, receiver: receiver, message: message, stamp: stamp, due: networkSteps + delay))
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
        fresh.links = Array(repeating: [], count: links.count)
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
        precondition(!messagesInFlight, "a restart with messages in flight would lose them")
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
