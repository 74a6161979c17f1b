/// What the control plane's leader proposes, as a pure function of the committed table and
/// the routers membership reports alive: first placements by rendezvous hashing
/// (`PartitionMap`), a dead owner replaced by an alive in-sync replica (the epoch grows),
/// dead replicas taken out of in-sync sets. A partition whose in-sync routers are all
/// down keeps its owner and waits for it: nobody else has its acknowledged writes.
/// Changes carry the epoch they were decided at, so proposing twice is harmless.
public enum TablePlanner {
    public static func changes(for table: PartitionTable, alive: Set<String>, replicas: Int) -> [PartitionTable.Change] {
        guard !alive.isEmpty else { return [] }
        // Every alive router ranked for each partition; a first placement takes the top `replicas`.
        let ranking = PartitionMap(partitionCount: table.partitions.count, replicas: alive.count, nodes: Array(alive))
        let copies = min(max(1, replicas), alive.count)
        var changes: [PartitionTable.Change] = []
        for (index, entry) in table.partitions.enumerated() {
            if entry.owner == nil && entry.inSync.isEmpty {
                let holders = Array(ranking.holders(of: index).prefix(copies))
                changes.append(.assign(partition: index, owner: holders[0], inSync: holders, expectedEpoch: entry.epoch))
            } else if let owner = entry.owner, alive.contains(owner) {
                let dead = entry.inSync.filter { !alive.contains($0) }
                if !dead.isEmpty { changes.append(.shrink(partition: index, remove: dead, expectedEpoch: entry.epoch)) }
            } else {
                // The owner is down: the alive in-sync replica the hashing prefers takes over.
                let candidates = entry.inSync.filter { alive.contains($0) }
                guard let next = ranking.holders(of: index).first(where: candidates.contains) else { continue }
                changes.append(.assign(partition: index, owner: next, inSync: [next] + candidates.filter { $0 != next }, expectedEpoch: entry.epoch))
            }
        }
        return changes
    }
}
