/// Identifiers are distinct types over strings, so an operator id can never be passed
/// where a conversation id is expected.
public protocol StringIdentifier: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The id as configured or minted.
    var raw: String { get }
    /// Wraps a raw id.
    init(_ raw: String)
}

extension StringIdentifier {
    /// A literal id (tests, demo data).
    public init(stringLiteral value: String) { self.init(value) }
    public var description: String { raw }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.raw < rhs.raw }
}

/// A site (tenant): one shop with its own departments, operators and secrets.
public struct SiteID: StringIdentifier {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// An operator (a human agent) of one site.
public struct OperatorID: StringIdentifier {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// A conversation; its stable hash picks the partition that owns it.
public struct ConversationID: StringIdentifier {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// A visitor (shopper) of one site, from their signed session token.
public struct VisitorID: StringIdentifier {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// A skill, which is also a department ("sales", "billing", "support").
public struct Skill: StringIdentifier {
    public let raw: String
    public init(_ raw: String) { self.raw = raw }
}

/// Time on the router core's clock: wall-clock nanoseconds since 1970 (never going back
/// within a process), so stored times keep their meaning after a restart and on another
/// router. State machines receive it as an argument and never read a clock themselves.
public typealias Instant = UInt64

/// Durations in nanoseconds, written readably.
public enum Nanos {
    /// `n` seconds.
    public static func seconds(_ n: UInt64) -> UInt64 { n * 1_000_000_000 }
    /// `n` milliseconds.
    public static func milliseconds(_ n: UInt64) -> UInt64 { n * 1_000_000 }
}
