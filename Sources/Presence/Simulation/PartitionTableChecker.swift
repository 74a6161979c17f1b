/// What the partition table promises the routers, checked against every copy the simulated
/// servers held, after every apply and snapshot install, with a record of the whole run:
/// each (partition, epoch)'s owner, the routers seen in sync at each (partition, epoch),
/// and the table after each applied index. It reads tables only, and trusts nothing of
/// `PartitionTable.apply`: these are the rules `apply` is there to keep.
struct PartitionTableChecker {
    private struct PartitionEpoch: Hashable {
        var partition: Int
        var epoch: UInt64
    }

    /// The owner of each partition at each epoch, as the first server to hold it saw it.
    private var ownerAt: [PartitionEpoch: String] = [:]
    /// Every router any server held in a partition's in-sync set at an epoch.
    private var inSyncAt: [PartitionEpoch: Set<String>] = [:]
    /// The table after each applied index, as the first server to apply it held it.
    private var tableAt: [RaftIndex: PartitionTable] = [:]

    /// At most one owner per (partition, epoch), on all servers and at all times: two
    /// routers never both serve a partition under the same epoch, so a write fenced by its
    /// epoch reaches one owner only.
    mutating func owners(in table: PartitionTable, at server: ServerID) -> String? {
        for (partition, entry) in table.partitions.enumerated() {
            guard let owner = entry.owner else { continue }
            let key = PartitionEpoch(partition: partition, epoch: entry.epoch)
            if let known = ownerAt[key], known != owner {
                return "two owners of partition \(partition) at epoch \(entry.epoch): \(known), and \(owner) at \(server)"
            }
            ownerAt[key] = owner
            inSyncAt[key, default: []].formUnion(entry.inSync)
        }
        return nil
    }

    /// On one server (within one boot: a restart reloads an older snapshot), no partition's
    /// epoch and not the table's version ever go back.
    static func grows(from old: PartitionTable, to new: PartitionTable, at server: ServerID) -> String? {
        if new.version < old.version { return "\(server)'s table went back from version \(old.version) to \(new.version)" }
        for (partition, (before, after)) in zip(old.partitions, new.partitions).enumerated() where after.epoch < before.epoch {
            return "\(server)'s partition \(partition) went back from epoch \(before.epoch) to \(after.epoch)"
        }
        return nil
    }

    /// Ownership moves only to a router in sync at the epoch before (the first owner, at
    /// epoch 1, had nobody to be in sync with). After one change, the server's own previous
    /// set is exactly the one the move was decided on, and one change raises an epoch by one
    /// at most; across a snapshot the steps are not seen, so the new owner must be in some
    /// set held at the epoch before, by any server.
    func moves(from old: PartitionTable, to new: PartitionTable, oneChange: Bool, at server: ServerID) -> String? {
        for (partition, (before, after)) in zip(old.partitions, new.partitions).enumerated() where after.epoch > before.epoch {
            guard let owner = after.owner else { return "\(server)'s partition \(partition) has epoch \(after.epoch) and no owner" }
            if oneChange, after.epoch > before.epoch + 1 {
                return "one change took \(server)'s partition \(partition) from epoch \(before.epoch) to \(after.epoch)"
            }
            guard after.epoch > 1 else { continue }
            let previous = oneChange ? Set(before.inSync) : inSyncAt[PartitionEpoch(partition: partition, epoch: after.epoch - 1)] ?? []
            if !previous.contains(owner) {
                return "\(server)'s partition \(partition) moved at epoch \(after.epoch) to \(owner), not in sync at epoch \(after.epoch - 1) (\(previous.sorted()))"
            }
        }
        return nil
    }

    /// Every server holds the same table after the same index, a snapshot's table too: the
    /// table is a function of the committed log alone.
    mutating func holds(_ table: PartitionTable, after index: RaftIndex, at server: ServerID) -> String? {
        guard let known = tableAt[index] else {
            tableAt[index] = table
            return nil
        }
        return known == table ? nil : "\(server)'s table after \(index) (version \(table.version)) is not the one applied there (version \(known.version))"
    }
}
