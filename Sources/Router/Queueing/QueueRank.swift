/// Where a waiting conversation stands in its queue: lower ranks are served first.
///
/// Aging is linear, so it can be folded into a fixed key: a conversation of priority `p`
/// queued at `t` ranks as if it had arrived at `t - p * agingInterval`. Ranks therefore
/// never change while conversations wait: FIFO within a priority, higher priority first
/// among arrivals closer together than the aging interval, and a long wait always ends up
/// ahead of newer high-priority arrivals (no starvation).
public struct QueueRank: Comparable, Hashable, Sendable {
    /// The virtual arrival time; `Int64.min` for conversations put back at the front.
    public var virtualTime: Int64
    /// Tie-break: the order in which the owning partition queued them.
    public var serial: UInt64

    /// The rank of a conversation queued at `queuedAt` with `priority`.
    public init(queuedAt: Instant, priority: Int, agingInterval: UInt64, serial: UInt64) {
        let boost = Int64(clamping: agingInterval).multipliedReportingOverflow(by: Int64(priority))
        let time = Int64(clamping: queuedAt)
        virtualTime = boost.overflow ? (priority > 0 ? Int64.min + 1 : Int64.max) : time.subtractingReportingOverflow(boost.partialValue).partialValue
        self.serial = serial
    }

    /// A rank ahead of every normally queued conversation (an operator's chats that go back
    /// to the queue after a disconnect), in the order they were put back.
    public static func front(serial: UInt64) -> QueueRank {
        QueueRank(virtualTime: Int64.min, serial: serial)
    }

    /// A rank from its stored parts.
    public init(virtualTime: Int64, serial: UInt64) {
        self.virtualTime = virtualTime
        self.serial = serial
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.virtualTime, lhs.serial) < (rhs.virtualTime, rhs.serial)
    }
}

/// A queue lane: the waiting conversations of one site and skill whose current minimum
/// level is `level`. A level-`L` operator can take from lanes 1...L.
public struct LaneKey: Hashable, Sendable {
    /// The site.
    public var site: SiteID
    /// The skill (department).
    public var skill: Skill
    /// The current minimum proficiency of the lane's conversations.
    public var level: Int
    /// A lane.
    public init(site: SiteID, skill: Skill, level: Int) {
        self.site = site
        self.skill = skill
        self.level = level
    }
}
