import Foundation
import Router
import Testing
import Wire

@Suite struct PartitionStreamsTests {
    @Test func eachPartition_numbersItsOwnRecords_fromOne() {
        var streams = PartitionStreams(partitionCount: 3)
        #expect([streams.next(0), streams.next(2), streams.next(0), streams.next(0), streams.next(2)] == [1, 1, 2, 3, 2])
        #expect(streams.last == [3, 0, 2])
    }

    @Test func replay_skipsWhatTheSnapshotCovers_andAppliesWhatFollows() {
        var streams = PartitionStreams(partitionCount: 2)
        streams.snapshotted(0, upTo: 2)
        #expect((1...4).map { streams.replay(0, number: UInt64($0)) } == [.covered, .covered, .apply, .apply])
        #expect(streams.replay(1, number: 1) == .apply)
        #expect(streams.next(0) == 5 && streams.next(1) == 2)
    }

    @Test func aStreamThatSkipsOrRepeatsANumber_isAGap() {
        var streams = PartitionStreams(partitionCount: 1)
        #expect(streams.replay(0, number: 1) == .apply)
        #expect(streams.replay(0, number: 3) == .gap(expected: 2, found: 3))
        #expect(streams.replay(0, number: 1) == .gap(expected: 2, found: 1))
        var fresh = PartitionStreams(partitionCount: 1)
        #expect(fresh.replay(0, number: 2) == .gap(expected: 1, found: 2), "a stream starts at 1 unless a snapshot covers the start")
    }

    /// Records of logs written before streams had numbers are numbered in log order; the
    /// numbers written after them go on from there, and a snapshot covers them like any.
    @Test func unnumberedRecordsOfAnOlderLog_countAsTheStart() {
        var streams = PartitionStreams(partitionCount: 1)
        #expect([streams.replay(0, number: nil), streams.replay(0, number: nil), streams.replay(0, number: 3)] == [.apply, .apply, .apply])
        var reopened = PartitionStreams(partitionCount: 1)
        reopened.snapshotted(0, upTo: 3)
        #expect([reopened.replay(0, number: nil), reopened.replay(0, number: nil), reopened.replay(0, number: 3), reopened.replay(0, number: 4)]
            == [.covered, .covered, .covered, .apply])
    }
}

/// A shared log of two partitions' streams, their snapshots, and replay partition by partition.
@Suite struct PartitionLogReplayTests {
    static let everything = Placement(partitionCount: 2)

    /// A record that names its partition and number, so replay's output shows what it applied.
    static func record(_ partition: Int, _ number: Int) -> PartitionRecord { .declined(ConversationID("p\(partition)-\(number)"), "op") }

    /// Appends `numbers` of each partition, interleaved, to the log in `directory`.
    static func append(_ entries: [(partition: Int, number: Int)], to directory: String) throws {
        let (log, _) = try SegmentedLog.open(directory: directory)
        try log.append(entries.map { PartitionRecordCodec.encode(record($0.partition, $0.number), partition: $0.partition, sequence: UInt64($0.number)) })
        try log.sync()
    }

    static func replay(_ directory: String, placement: Placement = everything) throws -> [Int: [PartitionRecord]] {
        var applied: [Int: [PartitionRecord]] = [:]
        _ = try PartitionLogReplay.replay(directory: directory, records: try SegmentedLog.read(directory: directory), placement: placement) {
            applied[$0, default: []].append($1)
        }
        return applied
    }

    static func snapshot(_ directory: String, partition: Int, covers: UInt64, _ records: [PartitionRecord]) throws {
        try PartitionSnapshots.write(directory: directory, partition: partition, covers: covers) { (emit) throws(StorageError) in
            for record in records { try emit(record) }
        }
    }

    let interleaved = [(0, 1), (1, 1), (0, 2), (0, 3), (1, 2), (0, 4)].map { (partition: $0.0, number: $0.1) }

    @Test func aPartition_isItsSnapshotThenItsLaterRecords_andTheOtherIsUntouched() throws {
        let dir = TempDirectory()
        try Self.append(interleaved, to: dir.path)
        // Partition 0 compacted alone, covering its records 1-3 (the segments are not dropped:
        // partition 1 still needs them, and this is also what a crash before the drop leaves).
        let rebuilt = PartitionRecord.declined("rebuilt-state", "op")
        try Self.snapshot(dir.path, partition: 0, covers: 3, [rebuilt])
        let applied = try Self.replay(dir.path)
        #expect(applied[0] == [rebuilt, Self.record(0, 4)])
        #expect(applied[1] == [Self.record(1, 1), Self.record(1, 2)])
        #expect(try PartitionLogReplay.read(partition: 0, directory: dir.path, partitionCount: 2) == applied[0])
    }

    @Test func aPartitionDroppedAlone_replaysEmpty_andTheOthersKeepEverything() throws {
        let dir = TempDirectory()
        try Self.append(interleaved, to: dir.path)
        try Self.snapshot(dir.path, partition: 1, covers: 2, [])
        let applied = try Self.replay(dir.path)
        #expect(applied[1] == nil)
        #expect(applied[0] == (1...4).map { Self.record(0, $0) })
        // What it writes next goes on from its numbers: a gapless stream.
        try Self.append([(partition: 1, number: 3)], to: dir.path)
        #expect(try Self.replay(dir.path)[1] == [Self.record(1, 3)])
    }

    @Test func aMissingRecord_stopsTheOpen_namingThePartition() throws {
        let dir = TempDirectory()
        try Self.append([(0, 1), (0, 2), (0, 4)].map { (partition: $0.0, number: $0.1) }, to: dir.path)
        #expect(throws: StorageError.self) { try Self.replay(dir.path) }
        do {
            _ = try Self.replay(dir.path)
        } catch {
            #expect("\(error)".contains("partition 0's records go on at number 4, not 3"), "\(error)")
        }
    }

    @Test func aPartitionOwnedElsewhere_isStillReplayed_asThisRoutersCopy() throws {
        // The table may move a partition away and back: the copy here is what comes back.
        let dir = TempDirectory()
        try Self.append(interleaved, to: dir.path)
        let replayed = try Self.replay(dir.path, placement: Placement(partitionCount: 2, owned: [0]))
        #expect(replayed[0]?.count == 4 && replayed[1]?.count == 2)
        // A partition beyond the count still stops the open.
        #expect(throws: StorageError.self) { try Self.replay(dir.path, placement: Placement(partitionCount: 1)) }
    }

    @Test func aDamagedSnapshot_stopsTheOpenByName_andAHalfWrittenOneIsRemoved() throws {
        let dir = TempDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try Self.snapshot(dir.path, partition: 1, covers: 5, [Self.record(1, 9)])
        let path = PartitionSnapshots.path(directory: dir.path, partition: 1)
        #expect(try PartitionSnapshots.readAll(directory: dir.path)[1] == .init(partition: 1, covers: 5, records: [Self.record(1, 9)]))
        // A crash while writing the next one left its temporary file: it never counted.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path + ".tmp"))
        #expect(try PartitionSnapshots.readAll(directory: dir.path).count == 1)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try PartitionSnapshots.readAll(directory: dir.path)
        } throws: { error in
            "\(error)".contains("partition-00001.log")
        }
    }
}
