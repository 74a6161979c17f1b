/// The queue heads of every partition, by lane: what an operator's home consults to pull
/// the best waiting conversation across partitions. On one node it is updated in memory
/// after each partition step; across routers the same heads travel by gossip.
public struct QueueDirectory: Sendable {
    /// Per lane: each partition's head rank, plus a min-heap over them with lazy deletion
    /// (entries that no longer match `current` are dropped when they reach the top).
    private struct Lane: Sendable {
        var current: [Int: QueueRank] = [:]
        var heap: [(rank: QueueRank, partition: Int)] = []
    }

    private var lanes: [LaneKey: Lane] = [:]

    /// An empty directory.
    public init() {}

    /// Records partition `partition`'s head of `lane` (nil: the lane is empty there).
    public mutating func update(lane key: LaneKey, partition: Int, head: QueueRank?) {
        var lane = lanes.removeValue(forKey: key) ?? Lane()
        if lane.current[partition] != head {
            lane.current[partition] = head
            if let head { Self.push(&lane.heap, (head, partition)) }
            // Rebuild when stale entries dominate, so the heap stays proportional to the heads.
            if lane.heap.count > 2 * lane.current.count + 16 {
                lane.heap = []
                for (partition, rank) in lane.current { Self.push(&lane.heap, (rank, partition)) }
            }
        }
        if !lane.current.isEmpty { lanes[key] = lane }
    }

    /// Forgets every head of partition `partition` (a full list of its heads follows).
    public mutating func clear(partition: Int) {
        for key in Array(lanes.keys) where lanes[key]?.current[partition] != nil {
            update(lane: key, partition: partition, head: nil)
        }
    }

    /// What the directory believes partition `partition`'s head of `lane` is.
    public func head(of lane: LaneKey, partition: Int) -> QueueRank? {
        lanes[lane]?.current[partition]
    }

    /// Every (lane, partition) with a head.
    public var entryCount: Int { lanes.values.reduce(0) { $0 + $1.current.count } }

    /// The partition holding the best head among the lanes an operator of `level` in
    /// `skill` can take from, with that rank, leaving out partitions in `excluded` (those
    /// that just said they hold nothing this operator may take).
    public mutating func best(site: SiteID, skill: Skill, level: Int, excluding excluded: Set<Int> = []) -> (partition: Int, rank: QueueRank)? {
        var best: (partition: Int, rank: QueueRank)?
        for laneLevel in 1...max(1, min(5, level)) {
            let key = LaneKey(site: site, skill: skill, level: laneLevel)
            guard var lane = lanes.removeValue(forKey: key) else { continue }
            while let top = lane.heap.first, lane.current[top.partition] != top.rank { Self.pop(&lane.heap) }
            if excluded.isEmpty {
                if let top = lane.heap.first, best.map({ top.rank < $0.rank }) ?? true { best = (top.partition, top.rank) }
            } else {
                // Rare path (the operator declined the heads): a scan of the heads is enough.
                for (partition, rank) in lane.current where !excluded.contains(partition) {
                    if best.map({ rank < $0.rank }) ?? true { best = (partition, rank) }
                }
            }
            if !lane.current.isEmpty { lanes[key] = lane }
        }
        return best
    }

    private static func push(_ heap: inout [(rank: QueueRank, partition: Int)], _ element: (QueueRank, Int)) {
        heap.append((element.0, element.1))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].rank < heap[parent].rank else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private static func pop(_ heap: inout [(rank: QueueRank, partition: Int)]) {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].rank < heap[smallest].rank { smallest = left }
            if right < heap.count && heap[right].rank < heap[smallest].rank { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
