import Wire

/// One server's part in Raft (Ongaro & Ousterhout 2014; Ongaro's dissertation 2014 for
/// pre-vote, §9.6, and single-server membership changes, §4.1), as a pure state machine:
/// inputs are `start`, `onTimer`, `onMessage`, `propose`, `changeMembership` and `compact`
/// with the current time; outputs are `RaftAction`s in the order a shell must carry them
/// out (persist and fsync, then send, then apply). It never reads a clock, never touches a
/// disk or a socket; election timeouts are drawn from the injected seed.
///
/// Beyond the paper's core: a voter that lost its leader first asks for pre-votes, without
/// raising its term, and a voter that heard from a leader within the minimum election
/// timeout refuses both pre-votes and votes (dissertation §4.2.3), so a server that was cut
/// off cannot depose a healthy leader when it returns; a leader that has not heard from a
/// majority for a maximum election timeout steps down (check-quorum), so one stranded in a
/// minority stops taking proposals that could never commit.
public struct RaftNode: Sendable {
    /// What the leader knows of one follower (paper figure 2: nextIndex, matchIndex).
    struct Progress: Sendable {
        var next: RaftIndex
        var match: RaftIndex = 0
        /// When it last answered in this term, for check-quorum.
        var lastContact: UInt64?
    }

    /// Counters for /metrics and the simulator.
    public struct Counters: Sendable, Equatable {
        public var preVotes = 0
        public var elections = 0
        public var termsLed = 0
        public var snapshotsSent = 0
        public var snapshotsInstalled = 0
        public var checkQuorumStepDowns = 0
    }

    public let id: ServerID
    public let settings: RaftSettings
    /// Persistent: the latest term seen and the vote given in it.
    public internal(set) var term: RaftTerm
    public internal(set) var votedFor: ServerID?
    /// Persistent: the log after the snapshot, and the snapshot (kept to send to followers).
    public internal(set) var log: RaftLog
    public internal(set) var snapshot: RaftSnapshot
    /// Volatile: the highest index known committed, and the highest handed to `apply`.
    public internal(set) var commitIndex: RaftIndex
    public internal(set) var lastApplied: RaftIndex
    public internal(set) var role: RaftRole = .follower
    /// The leader of the current term, if known.
    public internal(set) var leader: ServerID?
    /// The configuration in force: the latest in the log, committed or not (dissertation §4.1).
    public internal(set) var configuration: RaftConfiguration
    /// The index of the entry that holds it (the snapshot's index if none after it does).
    public internal(set) var configurationIndex: RaftIndex
    public internal(set) var counters = Counters()

    /// When a leader of the current term was last heard from (volatile: none after a restart).
    var lastLeaderContact: UInt64?
    var electionGeneration: UInt64 = 0
    /// Pre-votes or votes received in the current campaign, this server's own included.
    var votes: Set<ServerID> = []
    /// Leader only: every other member's progress.
    var progress: [ServerID: Progress] = [:]
    var leaderSince: UInt64 = 0
    var rng: SplitMix64

    /// A server restored from what it persisted (`RaftPersistentState.bootstrap` on a
    /// founding member's first boot, `.joining` on a server to be added later). Nothing
    /// volatile survives: it starts as a follower that knows no leader, with everything
    /// through its snapshot committed and applied (`start` tells the application to load it).
    public init(id: ServerID, settings: RaftSettings, restoring state: RaftPersistentState, seed: UInt64) {
        (self.id, self.settings) = (id, settings)
        (term, votedFor) = (state.term, state.votedFor)
        snapshot = state.snapshot
        log = RaftLog(snapshotIndex: state.snapshot.lastIndex, snapshotTerm: state.snapshot.lastTerm, entries: state.entries)
        commitIndex = state.snapshot.lastIndex
        lastApplied = state.snapshot.lastIndex
        (configuration, configurationIndex) = (state.snapshot.configuration, state.snapshot.lastIndex)
        rng = SplitMix64(seed: seed)
        recomputeConfiguration()
    }

    /// What this server would persist now: a restart from it is a restart after a crash.
    public var persistentState: RaftPersistentState {
        RaftPersistentState(term: term, votedFor: votedFor, snapshot: snapshot, entries: log.entries)
    }

    /// Whether this server counts toward majorities and may campaign, by its own latest
    /// configuration (an observer, or a server not in it, does neither; it still answers
    /// vote requests, which only a candidate that holds it a voter counts).
    public var isVoter: Bool { configuration.isVoter(id) }

    // MARK: inputs

    /// Starts: loads the stored snapshot into the application, if there is one, and starts
    /// the election timer.
    public mutating func start(now: UInt64) -> [RaftAction] {
        var out = RaftOutput()
        if snapshot.lastIndex > 0 { out.add(.installSnapshot(snapshot)) }
        resetElectionTimer(now: now, &out)
        return out.actions
    }

    /// A timer fired.
    public mutating func onTimer(_ timer: RaftTimer, now: UInt64) -> [RaftAction] {
        var out = RaftOutput()
        switch timer {
        case .election(let generation):
            guard generation == electionGeneration, role != .leader else { break }
            if isVoter {
                startPreVote(now: now, &out)
            } else {
                resetElectionTimer(now: now, &out)  // an observer keeps a timer so a promotion finds one running
            }
        case .heartbeat(let term):
            guard role == .leader, term == self.term else { break }
            heartbeat(now: now, &out)
        }
        return out.actions
    }

    /// A message arrived.
    public mutating func onMessage(_ envelope: RaftEnvelope, now: UInt64) -> [RaftAction] {
        var out = RaftOutput()
        if case .requestVote(let request) = envelope.message {
            // Votes handle terms themselves: a pre-vote's term is not adopted, and a vote
            // request within a leader's lease changes nothing.
            onVoteRequest(request, from: envelope.from, term: envelope.term, now: now, &out)
            return out.actions
        }
        if envelope.term > term { becomeFollower(term: envelope.term, now: now, &out) }
        switch envelope.message {
        case .requestVote: break
        case .voteResponse(let response): onVoteResponse(response, from: envelope.from, term: envelope.term, now: now, &out)
        case .appendEntries(let request): onAppendEntries(request, from: envelope.from, term: envelope.term, now: now, &out)
        case .appendResponse(let response): onAppendResponse(response, from: envelope.from, term: envelope.term, now: now, &out)
        case .installSnapshot(let request): onInstallSnapshot(request.snapshot, from: envelope.from, term: envelope.term, now: now, &out)
        case .snapshotResponse(let response): onSnapshotResponse(response, from: envelope.from, term: envelope.term, now: now, &out)
        }
        return out.actions
    }

    // MARK: roles

    /// Adopts a higher term (and forgets the vote, which was for an older one) or, with the
    /// same term, stops campaigning or leading.
    mutating func becomeFollower(term newTerm: RaftTerm, now: UInt64, _ out: inout RaftOutput) {
        let wasLeader = role == .leader
        if newTerm > term {
            (term, votedFor) = (newTerm, nil)
            out.add(.persistState(term: term, votedFor: nil))
            lastLeaderContact = nil
        }
        role = .follower
        progress = [:]
        setLeader(nil, &out)
        // A leader ran no election timer; a follower or candidate keeps the one it has.
        if wasLeader { resetElectionTimer(now: now, &out) }
    }

    /// Called for every AppendEntries or InstallSnapshot of the current term: its sender is
    /// the leader (at most one per term), so a candidate of the same term gives up.
    mutating func heardFromLeader(_ sender: ServerID, now: UInt64, _ out: inout RaftOutput) {
        if role != .follower { role = .follower }
        setLeader(sender, &out)
        lastLeaderContact = now
        resetElectionTimer(now: now, &out)
    }

    mutating func setLeader(_ server: ServerID?, _ out: inout RaftOutput) {
        guard leader != server else { return }
        leader = server
        out.add(.leaderChanged(server, term: term))
    }

    /// A fresh election timeout, uniform in the configured range (paper §5.2).
    mutating func resetElectionTimer(now: UInt64, _ out: inout RaftOutput) {
        electionGeneration += 1
        let timeout = UInt64.random(in: settings.electionTimeoutMinimum..<settings.electionTimeoutMaximum, using: &rng)
        out.add(.schedule(.election(generation: electionGeneration), at: now + timeout))
    }

    /// The configuration in force is the latest in the log, committed or not (dissertation
    /// §4.1), so it is found again after every append, truncation or snapshot.
    mutating func recomputeConfiguration() {
        for entry in log.entries.reversed() {
            if case .configuration(let found) = entry.kind {
                (configuration, configurationIndex) = (found, entry.index)
                return
            }
        }
        (configuration, configurationIndex) = (snapshot.configuration, snapshot.lastIndex)
    }

    /// The configuration in force at `index` (for a snapshot through it).
    func configuration(at index: RaftIndex) -> RaftConfiguration {
        var position = index
        while position > log.snapshotIndex {
            if case .configuration(let found) = log.entry(at: position)!.kind { return found }
            position -= 1
        }
        return snapshot.configuration
    }

    /// Hands newly committed entries to the application.
    mutating func applyCommitted(_ out: inout RaftOutput) {
        guard commitIndex > lastApplied else { return }
        out.add(.apply(log.entries(from: lastApplied + 1, through: commitIndex)))
        lastApplied = commitIndex
    }

    func send(_ message: RaftMessage, to server: ServerID, term: RaftTerm? = nil, _ out: inout RaftOutput) {
        out.add(.send(to: server, RaftEnvelope(from: id, term: term ?? self.term, message: message)))
    }
}
