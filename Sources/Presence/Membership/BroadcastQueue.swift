/// The rumours waiting to be piggybacked, each sent a bounded number of times
/// (memberlist queue.go, TransmitLimitedQueue): the least sent go first, so a new rumour
/// overtakes old ones, and a newer rumour about the same subject replaces the older one.
/// Membership queues updates by member; presence gossip queues entries by (origin, key).
public struct BroadcastQueue<Subject: Hashable & Sendable, Rumour: Sendable>: Sendable {
    private struct Entry: Sendable {
        var rumour: Rumour
        var transmits: Int
        var order: UInt64
    }

    private var entries: [Subject: Entry] = [:]
    private var counter: UInt64 = 0

    public init() {}

    /// Queues `rumour` about `subject`, replacing any older rumour about it.
    public mutating func enqueue(_ rumour: Rumour, about subject: Subject) {
        counter += 1
        entries[subject] = Entry(rumour: rumour, transmits: 0, order: counter)
    }

    /// Forgets every rumour whose subject `matches`.
    public mutating func removeAll(where matches: (Subject) -> Bool) {
        for subject in entries.keys where matches(subject) { entries[subject] = nil }
    }

    /// Rumours waiting.
    public var count: Int { entries.count }

    /// Takes rumours for one message, at most `budget` bytes as `encodedSize` counts them,
    /// least transmitted first (newest among equals); each taken is counted as sent once
    /// more and dropped when it reaches `limit`.
    public mutating func take(budget: Int, limit: Int, encodedSize: (Rumour) -> Int) -> [Rumour] {
        guard !entries.isEmpty else { return [] }
        let ordered = entries.sorted { ($0.value.transmits, UInt64.max - $0.value.order) < ($1.value.transmits, UInt64.max - $1.value.order) }
        var taken: [Rumour] = []
        var used = 0
        for (subject, entry) in ordered {
            let size = encodedSize(entry.rumour)
            guard used + size <= budget else { continue }
            used += size
            taken.append(entry.rumour)
            entries[subject]!.transmits += 1
            if entries[subject]!.transmits >= limit { entries[subject] = nil }
        }
        return taken
    }
}

extension BroadcastQueue where Subject == MemberID, Rumour == MembershipUpdate {
    /// Queues a membership update, replacing any older one about the same member.
    public mutating func enqueue(_ update: MembershipUpdate) {
        enqueue(update, about: update.member)
    }
}
