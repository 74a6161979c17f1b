/// A Raft term: a logical clock that only grows; at most one leader is elected in each
/// (Ongaro & Ousterhout 2014, §5.1). Zero is the term before any election.
public typealias RaftTerm = UInt64

/// The position of an entry in the replicated log, from 1; zero means "before the first
/// entry" (the paper's convention, so `prevLogIndex` of the first entry is 0).
public typealias RaftIndex = UInt64

/// A member of the Raft group: a router, by its configured name. Unlike a SWIM `MemberID`
/// it carries no generation: a restarted router is the same Raft server, with the term,
/// vote and log it persisted.
public struct ServerID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral name: String) { self.name = name }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.name < rhs.name }
    public var description: String { name }
}

/// Who is in the group: the voters elect leaders and make up majorities; the observers
/// (non-voting learners, dissertation §4.2.1) receive and apply the log but never campaign,
/// and no candidate or leader counts them toward a majority. A server is in at most one of the two sets.
public struct RaftConfiguration: Sendable, Hashable, CustomStringConvertible {
    public var voters: Set<ServerID>
    public var observers: Set<ServerID>

    public init(voters: Set<ServerID>, observers: Set<ServerID> = []) {
        self.voters = voters
        self.observers = observers.subtracting(voters)
    }

    /// No members: what a server that has yet to be added knows.
    public static let empty = RaftConfiguration(voters: [])

    /// How many voters make a majority.
    public var quorum: Int { voters.count / 2 + 1 }

    /// Everyone the leader replicates to (itself included if it is a member), sorted: Swift
    /// seeds its `Set` hashing per process, so iterating a set directly would make a
    /// simulation unrepeatable across runs.
    public var members: [ServerID] { (voters.union(observers)).sorted() }
    public var sortedVoters: [ServerID] { voters.sorted() }

    public func isVoter(_ server: ServerID) -> Bool { voters.contains(server) }
    public func isMember(_ server: ServerID) -> Bool { voters.contains(server) || observers.contains(server) }

    public var description: String {
        "voters \(sortedVoters.map(\.name))" + (observers.isEmpty ? "" : " observers \(observers.sorted().map(\.name))")
    }
}

/// One change of membership, one server at a time (dissertation §4.1): any two majorities of
/// the old and the new configuration overlap, so no joint consensus is needed.
public enum MembershipChange: Sendable, Hashable {
    /// Make `server` a voter (promoting it if it is an observer). Add it as an observer
    /// first and let it catch up, so the group is not short of a voter while it does
    /// (dissertation §4.2.1).
    case addVoter(ServerID)
    /// Remove a voter from the group altogether.
    case removeVoter(ServerID)
    /// Add a non-voting member (or demote a voter to one).
    case addObserver(ServerID)
    case removeObserver(ServerID)

    /// The configuration after this change, or nil if it changes nothing.
    public func applied(to configuration: RaftConfiguration) -> RaftConfiguration? {
        var next = configuration
        switch self {
        case .addVoter(let server):
            next.observers.remove(server)
            next.voters.insert(server)
        case .removeVoter(let server):
            next.voters.remove(server)
        case .addObserver(let server):
            next.voters.remove(server)
            next.observers.insert(server)
        case .removeObserver(let server):
            next.observers.remove(server)
        }
        return next == configuration ? nil : next
    }
}

/// What an entry of the log holds.
public enum RaftEntryKind: Sendable, Hashable {
    /// An opaque command of the application (a change of the partition table).
    case command([UInt8])
    /// A new membership, in force from the moment it is appended to a log (dissertation §4.1).
    case configuration(RaftConfiguration)
    /// What a new leader appends at the start of its term: committing it commits everything
    /// before it (paper §5.4.2, §8), and it tells the leader where the commit index is.
    case noop
}

/// One entry of the replicated log.
public struct RaftEntry: Sendable, Hashable {
    public var term: RaftTerm
    public var index: RaftIndex
    public var kind: RaftEntryKind

    public init(term: RaftTerm, index: RaftIndex, kind: RaftEntryKind) {
        (self.term, self.index, self.kind) = (term, index, kind)
    }
}

/// A snapshot: the application's state after applying every entry through `lastIndex`
/// (whose term was `lastTerm`), the membership in force at that point, and the state as
/// opaque bytes the application wrote.
public struct RaftSnapshot: Sendable, Hashable {
    public var lastIndex: RaftIndex
    public var lastTerm: RaftTerm
    public var configuration: RaftConfiguration
    public var data: [UInt8]

    public init(lastIndex: RaftIndex, lastTerm: RaftTerm, configuration: RaftConfiguration, data: [UInt8]) {
        (self.lastIndex, self.lastTerm, self.configuration, self.data) = (lastIndex, lastTerm, configuration, data)
    }
}

/// Everything a server must have on stable storage (paper figure 2: currentTerm, votedFor,
/// log[]; plus the latest snapshot, §7). A server is restored from exactly this after a
/// crash; nothing else survives one.
public struct RaftPersistentState: Sendable, Hashable {
    public var term: RaftTerm
    public var votedFor: ServerID?
    public var snapshot: RaftSnapshot
    /// The entries after the snapshot, in order, without gaps.
    public var entries: [RaftEntry]

    public init(term: RaftTerm = 0, votedFor: ServerID? = nil, snapshot: RaftSnapshot, entries: [RaftEntry] = []) {
        (self.term, self.votedFor, self.snapshot, self.entries) = (term, votedFor, snapshot, entries)
    }

    /// The first boot of a founding member: the initial membership is the empty snapshot at
    /// index 0, so every founding member starts from the same configuration without an
    /// election having to commit it.
    public static func bootstrap(_ configuration: RaftConfiguration) -> RaftPersistentState {
        RaftPersistentState(snapshot: RaftSnapshot(lastIndex: 0, lastTerm: 0, configuration: configuration, data: []))
    }

    /// The first boot of a server that is to be added later: it knows nobody, so it never
    /// campaigns, and waits for a leader to send it the log.
    public static let joining = bootstrap(.empty)
}
