/// The updates waiting to be piggybacked, each sent a bounded number of times
/// (memberlist queue.go, TransmitLimitedQueue): the least sent go first, so a new rumour
/// overtakes old ones, and a newer rumour about a member replaces the older one.
public struct BroadcastQueue: Sendable {
    private struct Entry: Sendable {
        var update: MembershipUpdate
        var transmits: Int
        var order: UInt64
    }

    private var entries: [MemberID: Entry] = [:]
    private var counter: UInt64 = 0

    public init() {}

    /// Queues `update`, replacing any older rumour about the same member.
    public mutating func enqueue(_ update: MembershipUpdate) {
        counter += 1
        entries[update.member] = Entry(update: update, transmits: 0, order: counter)
    }

    /// Updates waiting.
    public var count: Int { entries.count }

    /// Takes updates for one message, at most `budget` bytes as `encodedSize` counts them,
    /// least transmitted first (newest among equals); each taken is counted as sent once
    /// more and dropped when it reaches `limit`.
    public mutating func take(budget: Int, limit: Int, encodedSize: (MembershipUpdate) -> Int) -> [MembershipUpdate] {
        guard !entries.isEmpty else { return [] }
        let ordered = entries.values.sorted { ($0.transmits, UInt64.max - $0.order) < ($1.transmits, UInt64.max - $1.order) }
        var taken: [MembershipUpdate] = []
        var used = 0
        for entry in ordered {
            let size = encodedSize(entry.update)
            guard used + size <= budget else { continue }
            used += size
            taken.append(entry.update)
            let member = entry.update.member
            entries[member]!.transmits += 1
            if entries[member]!.transmits >= limit { entries[member] = nil }
        }
        return taken
    }
}
