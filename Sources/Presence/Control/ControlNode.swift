import Wire

/// The control plane on an event loop: this router's Raft member (`RaftNode`), its log on
/// disk (`RaftStorage`), and the partition table it applies from committed entries, talking
/// to the other routers over the membership node's control channel.
///
/// The shell keeps Raft's promise to the disk: every batch's `persist` actions are carried
/// out (each ends in an fdatasync) before any of its sends. A storage failure stops the
/// member (it answers nobody again) rather than let it vote or acknowledge what is not on
/// disk.
///
/// The leader keeps the table in step with membership: every `planInterval` it proposes
/// what `TablePlanner` says for the routers membership reports alive, and adds routers
/// that are not in the group yet as observers, one change at a time.
///
/// Loop-confined: create it with `start` and use it on its loop.
public final class ControlNode {
    public struct Metrics: Sendable, Equatable {
        public var leaderChanges = 0
        /// Table changes applied, and those the table refused (decided on an older view).
        public var changesApplied = 0
        public var changesRefused = 0
        /// Control messages that could not be read.
        public var undecodable = 0
        /// Messages of another group (a router configured with other voters), dropped.
        public var foreignGroup = 0
    }

    /// How often the leader compares the table with membership.
    public static let planInterval: UInt64 = 500_000_000
    /// Applied entries past the snapshot that make the member compact its log by default:
    /// the table is a few kilobytes, so snapshots are cheap and a returning router catches
    /// up in one.
    public static let defaultCompactionThreshold: RaftIndex = 64

    public let loop: EventLoop
    public private(set) var raft: RaftNode
    public private(set) var table: PartitionTable
    public private(set) var metrics = Metrics()
    /// Set when the disk failed: the member has stopped.
    public private(set) var failure: StorageError?
    /// Called on the loop when the committed table changed (with its new version).
    public var onTableChanged: ((PartitionTable) -> Void)?
    /// Called on the loop when this member learns of a new leader (nil: none known).
    public var onLeaderChanged: ((ServerID?, RaftTerm) -> Void)?

    private let storage: RaftStorage
    /// The other routers' addresses and liveness (nil: a router alone, a group of one).
    private let membership: MembershipNode?
    private let me: ServerID
    private let replicas: Int
    private let partitionCount: Int
    private var compactionThreshold = ControlNode.defaultCompactionThreshold
    /// Changes proposed by this leader and not applied yet: not proposed again meanwhile.
    private var pending: Set<[UInt8]> = []
    private var stopped = false
    /// When this member last became leader (monotonic), for the first placement's wait.
    private var leaderSince: UInt64?
    /// The routers the first placement waits for (nil: the voters), and for how long after
    /// a leader is elected before it places partitions over those that are up: until routers
    /// replicate, a partition stays where it is first placed, so a cluster that boots
    /// together should spread over all of them.
    public var initialRouters: Set<String>?
    public var firstPlacementWait: UInt64 = 10_000_000_000
    /// The group's name: its configured voters. Every message carries it, so routers
    /// configured with different voters (two groups, two tables) never mix their logs.
    private let group: String

    private init(loop: EventLoop, raft: RaftNode, storage: RaftStorage, membership: MembershipNode?, group: String, partitionCount: Int, replicas: Int) {
        (self.loop, self.raft, self.storage, self.membership, self.me) = (loop, raft, storage, membership, raft.id)
        (self.partitionCount, self.replicas) = (partitionCount, replicas)
        table = PartitionTable(partitionCount: partitionCount)
        self.group = group
    }

    /// Opens the member's log in `directory` and starts it. `voters` are the configured
    /// voting routers (node ids; used only when the directory is new); this router votes if
    /// it is one of them, else it follows as an observer once the leader adds it. Without
    /// `membership` it is a group of one (`voters` should then be just `node`).
    public static func start(loop: EventLoop, node: String, membership: MembershipNode?, directory: String, voters: [String], partitionCount: Int,
                             replicas: Int, settings: RaftSettings, compactionThreshold: RaftIndex = defaultCompactionThreshold,
                             seed: UInt64) throws -> ControlNode {
        loop.assertInLoop()
        let me = ServerID(node)
        let storage = try RaftStorage(directory: directory, fresh: .bootstrap(RaftConfiguration(voters: Set(voters.map { ServerID($0) }))))
        let raft = RaftNode(id: me, settings: settings, restoring: storage.state, seed: seed)
        let node = ControlNode(loop: loop, raft: raft, storage: storage, membership: membership, group: voters.sorted().joined(separator: ","),
                               partitionCount: partitionCount, replicas: replicas)
        node.compactionThreshold = max(1, compactionThreshold)
        let box = UncheckedBox(node)
        membership?.onControl = { sender, body in box.value.received(body, from: sender) }
        node.carryOut(node.raft.start(now: MonotonicClock.now()))
        node.schedulePlanning()
        return node
    }

    /// Stops answering (a process about to exit).
    public func stop() {
        loop.assertInLoop()
        stopped = true
    }

    // MARK: internals

    private func received(_ body: [UInt8], from sender: MemberID) {
        guard !stopped else { return }
        let envelope: RaftEnvelope
        do {
            let (group, raftBytes) = try RaftCodec.splitGroup(body)
            guard group == self.group else {
                metrics.foreignGroup += 1
                return
            }
            envelope = try RaftCodec.decodeEnvelope(raftBytes)
        } catch {
            metrics.undecodable += 1
            return
        }
        // A router speaks only for itself.
        guard envelope.from.name == sender.node else {
            metrics.undecodable += 1
            return
        }
        carryOut(raft.onMessage(envelope, now: MonotonicClock.now()))
    }

    private func carryOut(_ actions: [RaftAction]) {
        for action in actions {
            // A failure (the disk, an unreadable snapshot) stops everything after it.
            guard !stopped else { return }
            switch action {
            case .persistState, .persistEntries, .persistTruncation, .persistSnapshot:
                do {
                    try storage.persist(action)
                } catch {
                    // Nothing that depends on it may go out: stop here, for good.
                    failure = error
                    stopped = true
                    return
                }
            case .send(let to, let envelope):
                guard let membership, let address = address(of: to) else { continue }
                membership.sendControl(RaftCodec.withGroup(group, RaftCodec.encode(envelope)), to: address)
            case .installSnapshot(let snapshot):
                do {
                    table = try PartitionTableCodec.decodeTable(snapshot.data)
                    pending = []  // what this member proposed may be in the snapshot or gone
                } catch {
                    // An empty table in its place would make this copy differ from the others'.
                    failure = .damagedFile(path: "control snapshot at index \(snapshot.lastIndex)", reason: error.message)
                    stopped = true
                    return
                }
                onTableChanged?(table)
            case .apply(let entries):
                apply(entries)
            case .schedule(let timer, let at):
                let box = UncheckedBox(self)
                _ = loop.scheduleTimer(at: at) {
                    let node = box.value
                    node.carryOut(node.raft.onTimer(timer, now: MonotonicClock.now()))
                }
            case .leaderChanged(let leader, let term):
                metrics.leaderChanges += 1
                pending = []
                leaderSince = leader == me ? MonotonicClock.now() : nil
                onLeaderChanged?(leader, term)
            }
        }
    }

    private func apply(_ entries: [RaftEntry]) {
        var changed = false
        for entry in entries {
            guard case .command(let bytes) = entry.kind else { continue }
            pending.remove(bytes)
            guard let change = try? PartitionTableCodec.decodeChange(bytes) else {
                metrics.changesRefused += 1
                continue
            }
            if table.apply(change) == nil {
                metrics.changesApplied += 1
                changed = true
            } else {
                metrics.changesRefused += 1
            }
        }
        if changed { onTableChanged?(table) }
        if raft.lastApplied >= raft.snapshot.lastIndex + compactionThreshold,
           let actions = try? raft.compact(through: raft.lastApplied, snapshot: PartitionTableCodec.encode(table)) {
            carryOut(actions)
        }
    }

    /// The gossip address of the live generation of router `server`.
    private func address(of server: ServerID) -> String? {
        membership?.instance.members.first { $0.key.node == server.name && !$0.value.status.isGone }?.value.address
    }

    private func schedulePlanning() {
        let box = UncheckedBox(self)
        _ = loop.scheduleTimer(at: MonotonicClock.now() + Self.planInterval) {
            let node = box.value
            guard !node.stopped else { return }
            node.plan()
            node.schedulePlanning()
        }
    }

    /// As the leader: what membership says is alive, the table should follow.
    private func plan() {
        guard raft.role == .leader else { return }
        let live = membership?.instance.members.filter { $0.value.status == .alive || $0.value.status == .suspect }.map(\.key.node) ?? []
        let alive = Set(live + [me.name])
        let unplaced = table.partitions.contains { $0.owner == nil }
        let expected = initialRouters ?? Set(raft.configuration.voters.map(\.name))
        // The first placement waits a little for every router it expects.
        let waiting = unplaced && !expected.isSubset(of: alive) && MonotonicClock.now() < (leaderSince ?? 0) + firstPlacementWait
        for change in waiting ? [] : TablePlanner.changes(for: table, alive: alive, replicas: replicas) {
            let bytes = PartitionTableCodec.encode(change)
            guard !pending.contains(bytes), let proposal = try? raft.propose(bytes, now: MonotonicClock.now()) else { continue }
            pending.insert(bytes)
            carryOut(proposal.actions)
        }
        // A router not in the group yet follows the table as an observer (one change at a time).
        if let newcomer = alive.sorted().first(where: { !raft.configuration.isMember(ServerID($0)) }),
           let proposal = try? raft.changeMembership(.addObserver(ServerID(newcomer)), now: MonotonicClock.now()) {
            carryOut(proposal.actions)
        }
    }
}
