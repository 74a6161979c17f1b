import Foundation
import Presence
import Testing
import Wire

@Suite struct RaftCodecTests {
    static let configuration = RaftConfiguration(voters: ["router-1", "router-2", "router-3"], observers: ["router-4"])
    static let entries = [RaftEntry(term: 3, index: 7, kind: .command([1, 2, 3])), RaftEntry(term: 3, index: 8, kind: .configuration(configuration)),
                          RaftEntry(term: 4, index: 9, kind: .noop)]
    static let snapshot = RaftSnapshot(lastIndex: 6, lastTerm: 2, configuration: configuration, data: Array("table".utf8))
    static let envelopes: [RaftEnvelope] = [
        .requestVote(VoteRequest(preVote: true, lastLogIndex: 9, lastLogTerm: 4)), .voteResponse(VoteResponse(preVote: false, granted: true)),
        .appendEntries(AppendEntries(prevLogIndex: 6, prevLogTerm: 2, entries: entries, leaderCommit: 8)),
        .appendResponse(AppendResponse(success: false, matchIndex: 0, conflictIndex: 5, conflictTerm: 2)),
        .appendResponse(AppendResponse(success: true, matchIndex: 9)), .installSnapshot(InstallSnapshot(snapshot: snapshot)),
        .snapshotResponse(SnapshotResponse(matchIndex: 6)),
    ].map { RaftEnvelope(from: "router-2", term: 4, message: $0) }

    @Test func everyMessage_roundTrips_andACutOneIsRefused() throws {
        for envelope in Self.envelopes {
            let bytes = RaftCodec.encode(envelope)
            #expect(try RaftCodec.decodeEnvelope(bytes) == envelope)
            for cut in 0..<bytes.count { #expect(throws: WireError.self) { try RaftCodec.decodeEnvelope(Array(bytes.prefix(cut))) } }
            #expect(throws: WireError.self) { try RaftCodec.decodeEnvelope(bytes + [0]) }
        }
        #expect(try RaftCodec.decodeSnapshot(RaftCodec.encode(Self.snapshot)) == Self.snapshot)
    }
}

@Suite struct RaftStorageTests {
    static func directory() -> String {
        NSTemporaryDirectory() + "switchboard-raft-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    static let fresh = RaftPersistentState.bootstrap(RaftCodecTests.configuration)

    @Test func whatWasPersisted_isWhatReopens() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try RaftStorage(directory: path, fresh: Self.fresh)
        #expect(storage.state == Self.fresh, "an empty directory starts fresh")
        let entries = (1...5).map { RaftEntry(term: 1, index: RaftIndex($0), kind: .command([UInt8($0)])) }
        try storage.persist(.persistState(term: 2, votedFor: "router-3"))
        try storage.persist(.persistEntries(entries))
        try storage.persist(.persistTruncation(from: 4))
        try storage.persist(.persistEntries([RaftEntry(term: 2, index: 4, kind: .noop)]))
        let reopened = try RaftStorage(directory: path, fresh: Self.fresh)
        #expect(reopened.state.term == 2 && reopened.state.votedFor == "router-3")
        #expect(reopened.state.entries == Array(entries.prefix(3)) + [RaftEntry(term: 2, index: 4, kind: .noop)])
        // A snapshot through 3 compacts the log to what follows it.
        let snapshot = RaftSnapshot(lastIndex: 3, lastTerm: 1, configuration: RaftCodecTests.configuration, data: [9, 9])
        try reopened.persist(.persistSnapshot(snapshot))
        let again = try RaftStorage(directory: path, fresh: Self.fresh)
        #expect(again.state.snapshot == snapshot && again.state.entries == [RaftEntry(term: 2, index: 4, kind: .noop)])
    }

    @Test func aTornLastRecord_isCutAway_butDamageBeforeItStopsTheOpen() throws {
        let path = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try RaftStorage(directory: path, fresh: Self.fresh)
        try storage.persist(.persistEntries((1...3).map { RaftEntry(term: 1, index: RaftIndex($0), kind: .command(Array(repeating: UInt8($0), count: 20))) }))
        let log = path + "/log"
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: log)))
        // The last append stopped half way: the two complete entries come back, the file is cut.
        try Data(whole.dropLast(10)).write(to: URL(fileURLWithPath: log))
        let torn = try RaftStorage(directory: path, fresh: Self.fresh)
        #expect(torn.state.entries.map(\.index) == [1, 2])
        // A flipped byte in the first record: the acknowledged entries after it cannot be trusted.
        var damaged = whole
        damaged[RaftStorage.logHeader.count + 10] ^= 0xff
        try Data(damaged).write(to: URL(fileURLWithPath: log))
        #expect(throws: StorageError.self) { try RaftStorage(directory: path, fresh: Self.fresh) }
        // A damaged state file is refused too, not read as term 0.
        try Data(whole).write(to: URL(fileURLWithPath: log))
        try storage.persist(.persistState(term: 5, votedFor: nil))
        var state = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path + "/state")))
        state[0] ^= 0x01
        try Data(state).write(to: URL(fileURLWithPath: path + "/state"))
        #expect(throws: StorageError.self) { try RaftStorage(directory: path, fresh: Self.fresh) }
    }
}

@Suite struct RaftStorageRecoveryTests {
    @Test func zerosWhereTheLastWriteNeverLanded_areCutAway() throws {
        let path = RaftStorageTests.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try RaftStorage(directory: path, fresh: RaftStorageTests.fresh)
        try storage.persist(.persistEntries([RaftEntry(term: 1, index: 1, kind: .noop)]))
        let log = URL(fileURLWithPath: path + "/log")
        try Data(try Data(contentsOf: log) + Data(repeating: 0, count: 40)).write(to: log)
        #expect(try RaftStorage(directory: path, fresh: RaftStorageTests.fresh).state.entries.map(\.index) == [1])
    }

    @Test func aCrashBetweenSnapshotAndLogRewrite_leavesALogThatFollowsTheSnapshot() throws {
        let path = RaftStorageTests.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try RaftStorage(directory: path, fresh: RaftStorageTests.fresh)
        try storage.persist(.persistEntries((1...5).map { RaftEntry(term: 1, index: RaftIndex($0), kind: .noop) }))
        let log = URL(fileURLWithPath: path + "/log")
        let before = try Data(contentsOf: log)
        // The snapshot through 3 landed; the log rewrite after it did not.
        try storage.persist(.persistSnapshot(RaftSnapshot(lastIndex: 3, lastTerm: 1, configuration: RaftCodecTests.configuration, data: [1])))
        try before.write(to: log)
        let reopened = try RaftStorage(directory: path, fresh: RaftStorageTests.fresh)
        #expect(reopened.state.snapshot.lastIndex == 3 && reopened.state.entries.map(\.index) == [4, 5])
        // A Raft node can start from it (the log's rules hold).
        _ = RaftNode(id: "router-1", settings: .lan(), restoring: reopened.state, seed: 1)
    }

    @Test func appendEntriesWithIndicesThatDoNotFollow_areRefusedByTheDecoder() {
        let bad = RaftEnvelope(from: "router-2", term: 1, message: .appendEntries(AppendEntries(prevLogIndex: 4, prevLogTerm: 1,
            entries: [RaftEntry(term: 1, index: 7, kind: .noop)], leaderCommit: 0)))
        #expect(throws: WireError.self) { try RaftCodec.decodeEnvelope(RaftCodec.encode(bad)) }
        let overflow = RaftEnvelope(from: "router-2", term: 1, message: .appendEntries(AppendEntries(prevLogIndex: UInt64.max, prevLogTerm: 1,
            entries: [RaftEntry(term: 1, index: 0, kind: .noop)], leaderCommit: 0)))
        #expect(throws: WireError.self) { try RaftCodec.decodeEnvelope(RaftCodec.encode(overflow)) }
    }
}
