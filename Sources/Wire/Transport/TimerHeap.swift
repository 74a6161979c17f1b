/// Identifies a scheduled timer so it can be cancelled.
public struct TimerID: Hashable, Sendable {
    let raw: UInt64
}

/// A binary min-heap of timer deadlines. Pure: the event loop owns the tasks and asks the
/// heap which ids are due. Cancelled ids are not removed from the heap (that would need a
/// search); the loop drops them when they come due, so cancel stays O(1).
public struct TimerHeap: Sendable {
    private var entries: [(deadline: UInt64, id: UInt64)] = []
    private var nextID: UInt64 = 1

    /// An empty heap.
    public init() {}

    /// Number of entries, cancelled ones included.
    public var count: Int { entries.count }

    /// The earliest deadline, if any.
    public var nextDeadline: UInt64? { entries.first?.deadline }

    /// Adds a deadline and returns its id.
    public mutating func push(deadline: UInt64) -> TimerID {
        let id = nextID
        nextID += 1
        entries.append((deadline, id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(entries[child], entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
        return TimerID(raw: id)
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now`.
    /// Equal deadlines come out in the order they were pushed.
    public mutating func popDue(now: UInt64) -> TimerID? {
        guard let first = entries.first, first.deadline <= now else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count && Self.precedes(entries[left], entries[smallest]) { smallest = left }
                if right < entries.count && Self.precedes(entries[right], entries[smallest]) { smallest = right }
                if smallest == parent { break }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return TimerID(raw: first.id)
    }

    private static func precedes(_ a: (deadline: UInt64, id: UInt64), _ b: (deadline: UInt64, id: UInt64)) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.id < b.id)
    }
}
