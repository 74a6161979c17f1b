import Wire

/// Replays a router's log partition by partition: each partition's snapshot
/// (`PartitionSnapshots`), then its records in the shared segments numbered after it, in
/// log order. The streams' numbers are checked as they go: a partition whose records do
/// not follow on from each other stops the open, since the log then does not hold what was
/// acknowledged.
public enum PartitionLogReplay {
    /// Replays the snapshots in log directory `directory` and the segments' `records` into
    /// `apply`, for every partition it holds, owned here or not: a partition the table
    /// moved elsewhere keeps its copy in memory (unserved), ready if it comes back. A
    /// partition beyond `placement`'s count stops the open. Returns the streams, ready for the next record of each partition.
    public static func replay(directory: String, records: [LogFraming.Record], placement: Placement, clearLeftovers: Bool = true,
                              into apply: (Int, PartitionRecord) -> Void) throws(StorageError) -> PartitionStreams {
        var streams = PartitionStreams(partitionCount: placement.partitionCount)
        let snapshots = try PartitionSnapshots.readAll(directory: directory, clearLeftovers: clearLeftovers)
        for (partition, snapshot) in snapshots.sorted(by: { $0.key < $1.key }) {
            try check(partition, placement, at: PartitionSnapshots.path(directory: directory, partition: partition), offset: 0)
            for record in snapshot.records { apply(partition, record) }
            streams.snapshotted(partition, upTo: snapshot.covers)
        }
        for record in records {
            let entry = try decode(record, directory: directory)
            try check(entry.partition, placement, at: directory, offset: record.offset)
            switch streams.replay(entry.partition, number: entry.sequence) {
            case .apply: apply(entry.partition, entry.record)
            case .covered: break
            case .gap(let expected, let found):
                throw .corrupt(segment: directory, offset: record.offset,
                               reason: "partition \(entry.partition)'s records go on at number \(found), not \(expected): a segment is missing or comes from another log")
            }
        }
        return streams
    }

    /// Everything log directory `directory` holds for partition `partition` alone, in the
    /// order to apply it (its snapshot, then its records after it), read without changing
    /// any file: what shipping, checking or moving one partition reads.
    public static func read(partition: Int, directory: String, partitionCount: Int) throws(StorageError) -> [PartitionRecord] {
        var out: [PartitionRecord] = []
        let everything = Placement(partitionCount: partitionCount)
        _ = try replay(directory: directory, records: try SegmentedLog.read(directory: directory), placement: everything,
                       clearLeftovers: false) { owner, record in
            if owner == partition { out.append(record) }
        }
        return out
    }

    private static func decode(_ record: LogFraming.Record, directory: String) throws(StorageError) -> PartitionRecordCodec.Decoded {
        do throws(WireError) {
            return try PartitionRecordCodec.decode(type: record.type, body: record.body)
        } catch {
            throw .undecodable(segment: directory, offset: record.offset, reason: error.message)
        }
    }

    private static func check(_ partition: Int, _ placement: Placement, at path: String, offset: Int) throws(StorageError) {
        guard partition < placement.partitionCount else {
            throw .undecodable(segment: path, offset: offset, reason: "partition \(partition) of \(placement.partitionCount)")
        }
    }
}
