/// How operators are chosen among the eligible ones when a conversation arrives.
public enum AssignmentPolicy: String, Sendable, Codable, CaseIterable {
    /// Fewest current chats first, then the one idle longest (default).
    case leastLoaded = "least-loaded"
    /// Operators in turn, by id, starting after the last one chosen.
    case roundRobin = "round-robin"
    /// Highest proficiency in the requested skill first, then least loaded.
    case mostProficient = "most-proficient"
}

/// After a conversation has waited `after`, the minimum proficiency it needs drops to
/// `minimumLevel` (the "bullseye" widening: first the experts, then anyone in the department).
public struct EscalationStep: Sendable, Equatable, Codable {
    /// Wait after which this step applies, in ns.
    public var after: UInt64
    /// The minimum proficiency (1-5) from then on.
    public var minimumLevel: Int
    /// A step.
    public init(after: UInt64, minimumLevel: Int) {
        self.after = after
        self.minimumLevel = minimumLevel
    }
}

/// A site's routing rules. Every default is the documented one.
public struct RoutingSettings: Sendable, Equatable {
    /// How an operator is chosen when a conversation arrives.
    public var policy: AssignmentPolicy = .leastLoaded
    /// How long an operator has to accept an offer (default 30 s).
    public var offerTimeout: UInt64 = Nanos.seconds(30)
    /// Offers are accepted at once on the operator's behalf.
    public var autoAccept = false
    /// After this many consecutive missed or declined offers the operator is set away.
    public var maxConsecutiveMisses = 2
    /// How long a disconnected operator keeps their chats before they go back to the queue.
    public var disconnectGrace: UInt64 = Nanos.seconds(30)
    /// How long an operator whose last console went away still counts as online for the
    /// widgets' "is anyone there" (a console reload must not flash "offline" to shoppers).
    /// They are offered no new chat meanwhile.
    public var presenceGrace: UInt64 = Nanos.seconds(5)
    /// Waiting this long counts as one step of priority (aging; default 60 s): a priority-1
    /// conversation ranks as if it had arrived 60 s earlier than a priority-0 one.
    public var agingInterval: UInt64 = Nanos.seconds(60)
    /// Widening of the skill match over time, in increasing `after` order.
    public var escalation: [EscalationStep] = [
        EscalationStep(after: Nanos.seconds(60), minimumLevel: 1),
    ]
    /// A conversation still waiting after this long is marked missed and the visitor is
    /// offered to leave a message (default 10 min).
    public var waitLimit: UInt64 = Nanos.seconds(600)
    /// Handle time assumed before any conversation of a skill has ended (for wait estimates).
    public var initialHandleTime: UInt64 = Nanos.seconds(180)

    /// The defaults.
    public init() {}

    /// The minimum proficiency a conversation that asked for `requested` needs after `waited`.
    public func minimumLevel(requested: Int, waited: UInt64) -> Int {
        var level = requested
        for step in escalation where waited >= step.after { level = min(level, step.minimumLevel) }
        return max(1, level)
    }

    /// The next instant at which `minimumLevel` will drop, if any.
    public func nextEscalation(requested: Int, queuedAt: Instant, now: Instant) -> Instant? {
        let current = minimumLevel(requested: requested, waited: now &- queuedAt)
        return escalation
            .filter { queuedAt + $0.after > now && $0.minimumLevel < current }
            .map { queuedAt + $0.after }
            .min()
    }
}
