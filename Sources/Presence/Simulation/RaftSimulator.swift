import Foundation
import Wire

/// A deterministic, seeded world of Raft servers (3 or 5 voters plus observers) over a
/// simulated network: loss, delay with jitter (so reordering), a few very late messages,
/// duplication, symmetric and one-way partitions, crashes that keep only what was
/// persisted (some of them torn: in the middle of writing an event's persist actions,
/// before anything was sent), restarts, compaction, and, if asked, membership changes.
///
/// The application is the control plane's: each server applies committed changes to its
/// `PartitionTable` and snapshots it, as `ControlNode` does; leaders propose what
/// `TablePlanner` makes of their own applied table and of membership's view of the routers,
/// a view that changes (owners die, so partitions move). A lagging leader proposes stale
/// changes, which the table refuses.
///
/// After every event `RaftSafetyChecker` holds the run to the Raft properties, and after
/// every apply and snapshot install `PartitionTableChecker` holds every server's table to
/// the table's rules: at most one owner per (partition, epoch), epochs and versions that
/// only grow, ownership that moves only to an in-sync router, and the same table after the
/// same index everywhere. After `faultyDuration` every fault stops (all servers up, the network
/// whole and lossless) and the group must converge, a leader elected and every member
/// having applied everything committed, within `convergenceBound`. The first violation
/// ends the run and is reported with the seed and the event, so it can be replayed.
public struct RaftSimulator {
    /// What to simulate.
    public struct Plan: Sendable {
        public var voters: Int
        public var observers: Int
        public var settings: RaftSettings = .lan()
        /// How long faults happen (proposals and membership changes too), in nanoseconds.
        public var faultyDuration: UInt64 = 4_000_000_000
        /// After faults stop, the group converges within this. 5 s is ~17 maximum election
        /// timeouts: the longest message delay in flight (0.5 s), a few pre-vote and vote
        /// rounds with split votes, and the catch-up of a restarted member (a snapshot, then
        /// `maxEntriesPerMessage` entries per round trip).
        public var convergenceBound: UInt64 = 5_000_000_000
        public var loss = 0.05
        public var duplication = 0.02
        /// One-way delay, uniform jitter on top, and the share of messages held up to
        /// `lateDelay` (a stalled TCP connection), which then arrive long stale.
        public var delay: UInt64 = 1_000_000
        public var jitter: UInt64 = 10_000_000
        public var lateShare = 0.01
        public var lateDelay: UInt64 = 500_000_000
        /// Faults (crash or partition) per simulated second during the faulty period.
        public var faultsPerSecond = 1.5
        /// Times per simulated second a leader plans (proposes one table change, if its
        /// table needs any) during the faulty period.
        public var proposalsPerSecond = 20.0
        /// The table: its partitions, the routers that own them (not the Raft servers: their
        /// liveness is membership's view, apart from the Raft faults), and the copies of each.
        public var partitionCount = 8
        public var routers = ["r0", "r1", "r2", "r3", "r4"]
        public var replicas = 2
        /// Changes per simulated second of membership's view of the routers (one dies or
        /// comes back) during the faulty period.
        public var livenessChangesPerSecond = 2.0
        /// A server compacts once this many applied entries follow its snapshot. The table's
        /// log is short (it changes as the routers' liveness does, and settles), so servers
        /// compact often, to keep snapshots, and their tables, in play.
        public var compactAfter: UInt64 = 8
        /// Whether the client also changes the membership now and then (promote an observer,
        /// demote a voter, remove or re-add an observer, keeping 3 to 5 voters).
        public var membershipChanges = false
        /// Test only: a shell that breaks the persist-before-send contract (in a torn crash,
        /// what it sent went out though its writes were lost), to show the checker sees it.
        public var unsafeSendBeforeFsync = false
        /// Test only: a leader that applies a change to its table when it proposes it, before
        /// it commits (serving an ownership that another leader may give elsewhere), to show
        /// the table's checker sees it.
        public var unsafeApplyOnPropose = false
        public var seed: UInt64 = 1

        public init(voters: Int, observers: Int, seed: UInt64 = 1) {
            (self.voters, self.observers, self.seed) = (voters, observers, seed)
        }
    }

    /// What a run did.
    public struct Report: Sendable, Equatable {
        public var seed: UInt64
        public var events = 0
        /// Terms that had a leader, entries committed, proposals the leader took.
        public var termsWithLeader = 0
        public var committed: RaftIndex = 0
        public var proposals = 0
        public var membershipChanges = 0
        public var crashes = 0
        public var tornCrashes = 0
        public var partitions = 0
        public var snapshotsInstalled = 0
        /// Commands in the log that changed the table, and those it refused (stale, or
        /// proposed twice), each counted once.
        public var tableChangesApplied = 0
        public var tableChangesRefused = 0
        /// From the end of the faults until the group had converged (nil: it did not).
        public var convergedAfter: UInt64?
        public var violation: RaftViolation?
    }

    enum Event {
        case deliver(RaftEnvelope, to: Int)
        case timer(RaftTimer, server: Int, boot: Int)
        case fault
        case restart(Int)
        case heal(partition: Int)
        case propose
        case changeLiveness
        case changeMembership
        case faultsEnd
    }

    struct Server {
        var id: ServerID
        var node: RaftNode
        var disk: RaftPersistentState
        var up = true
        var boot = 0
        /// The application: how far it applied, its state's digest, and the table.
        var applied: RaftIndex = 0
        var digest = RaftSafetyChecker.emptyDigest
        var table: PartitionTable
        /// The next event this server handles is cut short by a crash, mid-persist.
        var tearNext = false
    }

    let plan: Plan
    var servers: [Server] = []
    var index: [ServerID: Int] = [:]
    var queue = EventHeap<Event>()
    var now: UInt64 = 0
    var rng: SplitMix64
    var checker = RaftSafetyChecker()
    var tableChecker = PartitionTableChecker()
    /// The routers membership reports alive, which leaders plan for.
    var alive: Set<String>
    /// The highest index whose table change `report` counted.
    var tableCountedThrough: RaftIndex = 0
    var report: Report
    /// Directed links cut, by partition number.
    var cuts: [Int: Set<Link>] = [:]
    var partitionCount = 0
    var faulty = true
    var event = "start"

    struct Link: Hashable {
        var from: Int
        var to: Int
    }

    public init(_ plan: Plan) {
        self.plan = plan
        rng = SplitMix64(seed: plan.seed)
        report = Report(seed: plan.seed)
        alive = Set(plan.routers)
    }

    /// Runs until the group converged after the faults, a violation, or the bound passed.
    public mutating func run() -> Report {
        let voters = (0..<plan.voters).map { ServerID("v\($0)") }
        let observers = (0..<plan.observers).map { ServerID("o\($0)") }
        let configuration = RaftConfiguration(voters: Set(voters), observers: Set(observers))
        for (position, id) in (voters + observers).enumerated() {
            let disk = RaftPersistentState.bootstrap(configuration)
            let node = RaftNode(id: id, settings: plan.settings, restoring: disk, seed: plan.seed &* 1_000_003 &+ UInt64(position))
            servers.append(Server(id: id, node: node, disk: disk, table: PartitionTable(partitionCount: plan.partitionCount)))
            index[id] = position
        }
        for position in servers.indices { carryOut(servers[position].node.start(now: 0), at: position, torn: false) }
        queue.push(at: exponential(plan.faultsPerSecond), .fault)
        queue.push(at: exponential(plan.proposalsPerSecond), .propose)
        queue.push(at: exponential(plan.livenessChangesPerSecond), .changeLiveness)
        if plan.membershipChanges { queue.push(at: 500_000_000, .changeMembership) }
        queue.push(at: plan.faultyDuration, .faultsEnd)
        let deadline = plan.faultyDuration + plan.convergenceBound
        while report.violation == nil, report.convergedAfter == nil, let (time, next) = queue.pop() {
            guard time <= deadline else { break }
            now = time
            report.events += 1
            handle(next)
            if !faulty, report.violation == nil, converged() { report.convergedAfter = now - plan.faultyDuration }
        }
        if report.violation == nil, report.convergedAfter == nil {
            violate("liveness", "no convergence within \(Double(plan.convergenceBound) / 1e9) s of the faults' end: \(status())")
        }
        report.committed = checker.highestCommitted
        report.snapshotsInstalled = servers.reduce(0) { $0 + $1.node.counters.snapshotsInstalled }
        return report
    }

    // MARK: events

    mutating func handle(_ next: Event) {
        switch next {
        case .deliver(let envelope, let target):
            guard servers[target].up else { return }
            event = "deliver \(envelope.message.name) \(envelope.from)→\(servers[target].id) (term \(envelope.term))"
            act(at: target) { $0.onMessage(envelope, now: $1) }
        case .timer(let timer, let target, let boot):
            guard servers[target].up, servers[target].boot == boot else { return }
            event = "timer \(timer) at \(servers[target].id)"
            act(at: target) { $0.onTimer(timer, now: $1) }
        case .fault:
            guard faulty else { return }
            injectFault()
            queue.push(at: now + exponential(plan.faultsPerSecond), .fault)
        case .restart(let target):
            guard !servers[target].up else { return }
            event = "restart \(servers[target].id)"
            restart(target)
        case .heal(let partition):
            cuts[partition] = nil
        case .propose:
            guard faulty else { return }
            event = "propose"
            propose()
            queue.push(at: now + exponential(plan.proposalsPerSecond), .propose)
        case .changeLiveness:
            guard faulty else { return }
            changeLiveness()
            queue.push(at: now + exponential(plan.livenessChangesPerSecond), .changeLiveness)
        case .changeMembership:
            guard faulty else { return }
            event = "change membership"
            changeMembership()
            queue.push(at: now + 300_000_000 + UInt64.random(in: 0..<700_000_000, using: &rng), .changeMembership)
        case .faultsEnd:
            event = "faults end"
            faulty = false
            cuts = [:]
            for target in servers.indices {
                servers[target].tearNext = false  // a crash armed before the end must not strike after it
                if !servers[target].up { restart(target) }
            }
        }
    }

    /// Hands one input to a server and carries out what it returns, then checks.
    @discardableResult
    mutating func act(at target: Int, _ input: (inout RaftNode, UInt64) throws(RaftError) -> [RaftAction]) -> RaftError? {
        let before = servers[target].node.log
        let (previousCommit, wasLeader) = (servers[target].node.commitIndex, servers[target].node.role == .leader)
        let actions: [RaftAction]
        do throws(RaftError) {
            actions = try input(&servers[target].node, now)
        } catch {
            return error
        }
        let torn = servers[target].tearNext
        check(target, before: before, previousCommit: previousCommit, wasLeader: wasLeader, actions: actions, torn: torn)
        carryOut(actions, at: target, torn: torn)
        if torn {
            crash(target)
        } else if report.violation == nil {
            checkDisk(target)
        }
        return nil
    }

    mutating func injectFault() {
        let choice = Int.random(in: 0..<3, using: &rng)
        let live = servers.indices.filter { servers[$0].up }
        if choice == 0, let victim = live.randomElement(using: &rng) {
            report.crashes += 1
            event = "crash \(servers[victim].id)"
            if Bool.random(using: &rng) {
                report.tornCrashes += 1
                servers[victim].tearNext = true  // it dies inside its next event
            } else {
                crash(victim)
            }
            queue.push(at: now + 200_000_000 + UInt64.random(in: 0..<2_000_000_000, using: &rng), .restart(victim))
        } else {
            // A random side against the rest, both ways or one way only, for up to 2 s.
            report.partitions += 1
            partitionCount += 1
            let side = Set(servers.indices.filter { _ in Bool.random(using: &rng) })
            let oneWay = choice == 2
            var links: Set<Link> = []
            for a in side { for b in servers.indices where !side.contains(b) {
                links.insert(Link(from: a, to: b))
                if !oneWay { links.insert(Link(from: b, to: a)) }
            } }
            cuts[partitionCount] = links
            queue.push(at: now + 100_000_000 + UInt64.random(in: 0..<2_000_000_000, using: &rng), .heal(partition: partitionCount))
        }
    }

    mutating func crash(_ target: Int) {
        servers[target].up = false
        servers[target].tearNext = false
    }

    /// Back from its disk alone, as a new boot: timers of the old one are void, and the
    /// application starts empty until `start` has it load the snapshot.
    mutating func restart(_ target: Int) {
        var server = servers[target]
        server.boot += 1
        server.up = true
        server.node = RaftNode(id: server.id, settings: plan.settings, restoring: server.disk,
                               seed: plan.seed &* 7_919 &+ UInt64(target * 1_000 + server.boot))
        (server.applied, server.digest, server.table) = (0, RaftSafetyChecker.emptyDigest, PartitionTable(partitionCount: plan.partitionCount))
        servers[target] = server
        carryOut(servers[target].node.start(now: now), at: target, torn: false)
    }

    /// An exponentially distributed wait (a Poisson process of `perSecond` a second).
    mutating func exponential(_ perSecond: Double) -> UInt64 {
        let uniform = Double.random(in: Double.ulpOfOne..<1, using: &rng)
        return UInt64(-log(uniform) / perSecond * 1e9)
    }
}

extension RaftMessage {
    var name: String {
        switch self {
        case .requestVote(let request): request.preVote ? "preVote" : "requestVote"
        case .voteResponse(let response): response.preVote ? "preVoteResponse" : "voteResponse"
        case .appendEntries(let request): "appendEntries(\(request.prevLogIndex)+\(request.entries.count), commit \(request.leaderCommit))"
        case .appendResponse(let response): "appendResponse(\(response.success), \(response.matchIndex))"
        case .installSnapshot(let request): "installSnapshot(\(request.snapshot.lastIndex))"
        case .snapshotResponse(let response): "snapshotResponse(\(response.matchIndex))"
        }
    }
}
