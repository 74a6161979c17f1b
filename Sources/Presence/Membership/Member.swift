/// A member of the cluster: one router process, known by its node id and its generation, a
/// boot counter kept in its data directory. A restarted router is therefore a new member,
/// and the old one stays dead: nobody can mistake an old rumour for the new process.
public struct MemberID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The router's configured name.
    public var node: String
    /// Its boot counter.
    public var generation: UInt64

    public init(node: String, generation: UInt64) {
        (self.node, self.generation) = (node, generation)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.node, lhs.generation) < (rhs.node, rhs.generation) }
    public var description: String { "\(node)#\(generation)" }
}

/// What the cluster believes of a member.
///
/// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol.
public enum MemberStatus: UInt8, Sendable, Equatable, CaseIterable {
    /// Answering probes.
    case alive = 0
    /// A probe went unanswered; it is dead unless it refutes in time.
    case suspect = 1
    /// Declared dead (its suspicion ran out): never alive again under this generation.
    case dead = 2
    /// It left on purpose (SIGTERM): like dead, at once, with no suspicion.
    case left = 3

    /// Whether the member is gone for good (under this generation).
    public var isGone: Bool { self == .dead || self == .left }
}

/// A rumour about one member, piggybacked on probes and pushed in full state exchanges:
/// the member, where to reach it, and what is believed of it at which incarnation. The
/// member alone raises its incarnation, to refute a suspicion of itself.
public struct MembershipUpdate: Sendable, Equatable {
    public var member: MemberID
    /// Its UDP address, "host:port".
    public var address: String
    public var status: MemberStatus
    public var incarnation: UInt64
    /// For `suspect`: who suspects it (independent suspicions shorten the timeout).
    public var suspectedBy: MemberID?

    public init(member: MemberID, address: String, status: MemberStatus, incarnation: UInt64, suspectedBy: MemberID? = nil) {
        (self.member, self.address, self.status, self.incarnation, self.suspectedBy) = (member, address, status, incarnation, suspectedBy)
    }

    /// Whether this rumour replaces what is believed (`status` at `incarnation`) by SWIM's
    /// precedence: a higher incarnation wins; at the same one, suspect beats alive; dead and
    /// left beat everything at the same or a higher incarnation, and nothing beats them.
    public func overrides(status current: MemberStatus, incarnation currentIncarnation: UInt64) -> Bool {
        if current.isGone { return false }
        switch status {
        case .alive: return incarnation > currentIncarnation
        case .suspect: return incarnation > currentIncarnation || (incarnation == currentIncarnation && current == .alive)
        case .dead, .left: return incarnation >= currentIncarnation
        }
    }
}
