/// One suspicion of one member: since when, and who else suspects it. With Lifeguard its
/// timeout starts long and shrinks as independent members confirm it (memberlist
/// suspicion.go): a member suspected by one slow peer has time to refute, one that many
/// cannot reach is declared dead soon.
public struct Suspicion: Sendable, Equatable {
    /// The incarnation it is suspected at.
    public let incarnation: UInt64
    public let since: UInt64
    /// Members whose suspicion arrived (the first suspecter included).
    public private(set) var confirmers: Set<MemberID>

    public init(incarnation: UInt64, since: UInt64, by suspecter: MemberID) {
        (self.incarnation, self.since, confirmers) = (incarnation, since, [suspecter])
    }

    /// Another member suspects it too. Returns whether that was news.
    @discardableResult
    public mutating func confirm(by member: MemberID) -> Bool {
        confirmers.insert(member).inserted
    }

    /// Independent confirmations beyond the first.
    public var confirmations: Int { confirmers.count - 1 }

    /// When it runs out, for a cluster of `members`.
    public func deadline(members: Int, settings: SWIMSettings) -> UInt64 {
        since + settings.suspicionTimeout(members: members, confirmations: confirmations)
    }
}
