import Presence

/// A few `RaftNode`s driven by hand: messages wait in one FIFO until a test delivers them
/// (or drops some), time moves only when a test moves it, and each server's "disk" is built
/// from its persist actions alone, so a crash restores exactly what was persisted.
struct RaftTestCluster {
    typealias Message = (to: ServerID, envelope: RaftEnvelope)

    var settings: RaftSettings
    var nodes: [ServerID: RaftNode] = [:]
    var disks: [ServerID: RaftPersistentState] = [:]
    var down: Set<ServerID> = []
    var inbox: [Message] = []
    var now: UInt64 = 0
    /// Per server, every entry handed to `apply`, and every snapshot installed (by index).
    var applied: [ServerID: [RaftEntry]] = [:]
    var installed: [ServerID: [RaftIndex]] = [:]
    var electionTimers: [ServerID: RaftTimer] = [:]
    /// Every action of the latest call, per server.
    var last: [ServerID: [RaftAction]] = [:]

    init(voters: [ServerID], observers: [ServerID] = [], joining: [ServerID] = [], settings: RaftSettings = .lan()) {
        self.settings = settings
        let configuration = RaftConfiguration(voters: Set(voters), observers: Set(observers))
        for id in voters + observers { boot(id, from: .bootstrap(configuration)) }
        for id in joining { boot(id, from: .joining) }
    }

    mutating func boot(_ id: ServerID, from state: RaftPersistentState) {
        disks[id] = state
        nodes[id] = RaftNode(id: id, settings: settings, restoring: state, seed: StableSeed.of(id, now))
        down.remove(id)
        carryOut(nodes[id]!.start(now: now), at: id)
    }

    subscript(id: ServerID) -> RaftNode { nodes[id]! }

    mutating func crash(_ id: ServerID) {
        down.insert(id)
        inbox.removeAll { $0.to == id }
    }

    /// Restarts from the disk only: whatever was not persisted is gone.
    mutating func restart(_ id: ServerID) {
        applied[id] = []
        boot(id, from: disks[id]!)
    }

    mutating func carryOut(_ actions: [RaftAction], at id: ServerID) {
        last[id] = actions
        for action in actions {
            switch action {
            case .persistState(let term, let vote): (disks[id]!.term, disks[id]!.votedFor) = (term, vote)
            case .persistEntries(let entries): disks[id]!.entries += entries
            case .persistTruncation(let from): disks[id]!.entries.removeAll { $0.index >= from }
            case .persistSnapshot(let snapshot):
                disks[id]!.snapshot = snapshot
                disks[id]!.entries.removeAll { $0.index <= snapshot.lastIndex }
            case .send(let to, let envelope): inbox.append((to, envelope))
            case .apply(let entries): applied[id, default: []] += entries
            case .installSnapshot(let snapshot): installed[id, default: []].append(snapshot.lastIndex)
            case .schedule(let timer, _): if case .election = timer { electionTimers[id] = timer }
            case .leaderChanged: break
            }
        }
    }

    /// Delivers queued messages, and those they cause, until none is left; `drop` says which
    /// are lost. Messages to a crashed server are lost.
    mutating func deliver(dropping drop: (Message) -> Bool = { _ in false }) {
        var rounds = 0
        while !inbox.isEmpty {
            rounds += 1
            precondition(rounds < 100_000, "messages never stop")
            let message = inbox.removeFirst()
            guard !down.contains(message.to), !drop(message) else { continue }
            now += 1_000  // a microsecond per hop keeps time moving, far inside every timeout
            carryOut(nodes[message.to]!.onMessage(message.envelope, now: now), at: message.to)
        }
    }

    /// Fires `id`'s election timer, by default after every lease has run out.
    mutating func timeOut(_ id: ServerID, after delay: UInt64? = nil) {
        now += delay ?? settings.electionTimeoutMaximum + 1
        carryOut(nodes[id]!.onTimer(electionTimers[id]!, now: now), at: id)
    }

    /// Times `id` out and delivers until it leads (a pre-vote refused for a stale term
    /// teaches it the term, so a second try may be needed).
    mutating func elect(_ id: ServerID, dropping drop: (Message) -> Bool = { _ in false }) {
        for _ in 0..<4 where nodes[id]!.role != .leader {
            timeOut(id)
            deliver(dropping: drop)
        }
    }

    /// Every live leader's heartbeat, and what follows from it.
    mutating func heartbeat(dropping drop: (Message) -> Bool = { _ in false }) {
        now += settings.heartbeatInterval
        for id in nodes.keys.sorted() where !down.contains(id) && nodes[id]!.role == .leader {
            carryOut(nodes[id]!.onTimer(.heartbeat(term: nodes[id]!.term), now: now), at: id)
        }
        deliver(dropping: drop)
    }

    mutating func propose(_ text: String, at id: ServerID) throws(RaftError) -> RaftIndex {
        let proposal = try nodes[id]!.propose(Array(text.utf8), now: now)
        carryOut(proposal.actions, at: id)
        return proposal.index
    }

    mutating func change(_ change: MembershipChange, at id: ServerID) throws(RaftError) -> RaftIndex {
        let proposal = try nodes[id]!.changeMembership(change, now: now)
        carryOut(proposal.actions, at: id)
        return proposal.index
    }

    mutating func message(to id: ServerID, _ envelope: RaftEnvelope) -> [RaftAction] {
        let actions = nodes[id]!.onMessage(envelope, now: now)
        carryOut(actions, at: id)
        return actions
    }

    var leaders: [ServerID] { nodes.keys.sorted().filter { !down.contains($0) && nodes[$0]!.role == .leader } }
}

enum StableSeed {
    static func of(_ id: ServerID, _ now: UInt64) -> UInt64 {
        id.name.utf8.reduce(now &+ 1) { $0 &* 31 &+ UInt64($1) }
    }
}

/// Message predicates for `dropping:`.
extension RaftTestCluster {
    static func carriesEntries(ofTerm term: RaftTerm) -> (Message) -> Bool {
        { message in
            if case .appendEntries(let request) = message.envelope.message { return request.entries.contains { $0.term == term } }
            return false
        }
    }

    static func between(_ a: ServerID, _ b: ServerID) -> (Message) -> Bool {
        { ($0.to == a && $0.envelope.from == b) || ($0.to == b && $0.envelope.from == a) }
    }

    static func touching(_ servers: Set<ServerID>) -> (Message) -> Bool {
        { servers.contains($0.to) || servers.contains($0.envelope.from) }
    }

    static func isAppend(_ message: Message) -> Bool {
        switch message.envelope.message {
        case .appendEntries, .appendResponse, .installSnapshot, .snapshotResponse: true
        default: false
        }
    }
}
