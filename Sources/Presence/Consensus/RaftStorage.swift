import Glibc
import Wire

/// The Raft member's durable state in a directory of the router's data directory
/// (`<data>/control/`), written before the member answers anyone (the shell carries out a
/// batch's `persist` actions, which end in an fdatasync, before its sends):
/// - `state`: the current term and vote, replaced atomically;
/// - `snapshot`: the last snapshot, replaced atomically;
/// - `log`: the entries after the snapshot, appended as records (u32 length, u32 CRC32C of
///   the body, the body: `RaftCodec`'s entry) after an 8-byte header. A truncation or a
///   compaction rewrites it (rare: a conflicting suffix, a new snapshot).
/// The state and snapshot files end in the CRC32C of what precedes it.
///
/// Opening reads all three: a record cut short or failing its checksum at the very end of
/// the log is a write that never completed (never acknowledged) and is cut away; damage
/// anywhere else is `StorageError.corrupt` and nothing starts.
public final class RaftStorage {
    public static let logHeader: [UInt8] = Array("SBRAFT".utf8) + [0, 1]
    public let directory: String
    /// What is on disk now.
    public private(set) var state: RaftPersistentState
    private var log: Int32 = -1

    private var statePath: String { directory + "/state" }
    private var snapshotPath: String { directory + "/snapshot" }
    private var logPath: String { directory + "/log" }

    /// Opens `directory` (creating it); a directory with nothing in it starts from `fresh`.
    public init(directory: String, fresh: RaftPersistentState) throws(StorageError) {
        self.directory = directory
        try DurableFile.makeDirectory(directory)
        state = fresh
        if access(statePath, F_OK) == 0 {
            let (term, vote) = try Self.readState(statePath)
            (state.term, state.votedFor) = (term, vote)
        }
        if access(snapshotPath, F_OK) == 0 {
            state.snapshot = try Self.readSnapshot(snapshotPath)
        } else {
            // The first configuration is stored at once: a later start with other voters in
            // the configuration file does not change the group.
            try DurableFile.replace(snapshotPath, with: Self.sealed(RaftCodec.encode(fresh.snapshot)))
        }
        if access(logPath, F_OK) == 0 {
            let read = try readLog()
            state.entries = Self.following(state.snapshot, read)
            // A crash between installing a snapshot and rewriting the log leaves entries the
            // snapshot covers (or that contradict it): the log is made to follow it again.
            if state.entries != read { try rewriteLog(state.entries) }
        } else {
            try rewriteLog([])
        }
        if log < 0 { log = try DurableFile.openLogFile(logPath, header: Self.logHeader).fd }
    }

    /// The entries of `entries` that follow `snapshot` one by one; none if they contradict it.
    static func following(_ snapshot: RaftSnapshot, _ entries: [RaftEntry]) -> [RaftEntry] {
        if let covered = entries.first(where: { $0.index == snapshot.lastIndex }), covered.term != snapshot.lastTerm { return [] }
        var kept: [RaftEntry] = []
        for entry in entries where entry.index > snapshot.lastIndex {
            guard entry.index == snapshot.lastIndex + 1 + RaftIndex(kept.count) else { break }
            kept.append(entry)
        }
        return kept
    }

    deinit {
        if log >= 0 { Glibc.close(log) }
    }

    /// Carries out one `persist` action durably (the caller sends only after).
    public func persist(_ action: RaftAction) throws(StorageError) {
        switch action {
        case .persistState(let term, let vote):
            var w = ByteWriter(capacity: 64)
            w.writeVarint(term)
            if let vote {
                w.writeUInt8(1)
                w.writeString(vote.name)
            } else {
                w.writeUInt8(0)
            }
            try DurableFile.replace(statePath, with: Self.sealed(w.bytes))
            (state.term, state.votedFor) = (term, vote)
        case .persistEntries(let entries):
            var bytes: [UInt8] = []
            for entry in entries { bytes += Self.record(RaftCodec.encode(entry)) }
            try DurableFile.writeAll(log, bytes, path: logPath)
            try DurableFile.syncData(log, path: logPath)
            state.entries += entries
        case .persistTruncation(let from):
            let kept = state.entries.filter { $0.index < from }
            try rewriteLog(kept)
            state.entries = kept
        case .persistSnapshot(let snapshot):
            try DurableFile.replace(snapshotPath, with: Self.sealed(RaftCodec.encode(snapshot)))
            let kept = state.entries.filter { $0.index > snapshot.lastIndex }
            try rewriteLog(kept)
            state.snapshot = snapshot
            state.entries = kept
        default:
            break
        }
    }

    // MARK: internals

    private func rewriteLog(_ entries: [RaftEntry]) throws(StorageError) {
        var bytes = Self.logHeader
        for entry in entries { bytes += Self.record(RaftCodec.encode(entry)) }
        if log >= 0 { Glibc.close(log) }
        log = -1
        try DurableFile.replace(logPath, with: bytes)
        log = try DurableFile.openLogFile(logPath, header: Self.logHeader).fd
    }

    private func readLog() throws(StorageError) -> [RaftEntry] {
        let bytes = try DurableFile.read(logPath)
        guard bytes.count >= Self.logHeader.count, Array(bytes.prefix(Self.logHeader.count)) == Self.logHeader else {
            throw .corrupt(segment: logPath, offset: 0, reason: "not a Raft log (wrong header)")
        }
        var entries: [RaftEntry] = []
        var offset = Self.logHeader.count
        while offset < bytes.count {
            let rest = bytes.count - offset
            let length = rest >= 8 ? Int(Self.uint32(bytes, offset)) : 0
            let end = offset + 8 + length
            // Only the last write may be unfinished (it was never acknowledged): a record cut
            // short, or zeros where the file grew but the data never landed. It is cut away.
            let unfinished = rest < 8 || end > bytes.count || (length == 0 && bytes[offset...].allSatisfy { $0 == 0 })
            if unfinished {
                try DurableFile.truncate(logPath, to: offset)
                break
            }
            let body = Array(bytes[(offset + 8)..<min(end, bytes.count)])
            let entry = length > 0 && CRC32C.checksum(body) == Self.uint32(bytes, offset + 4) ? try? RaftCodec.decodeEntry(body) : nil
            guard let entry else {
                guard end == bytes.count else {
                    throw .corrupt(segment: logPath, offset: offset, reason: "a record's checksum or contents are wrong")
                }
                try DurableFile.truncate(logPath, to: offset)  // the last record, torn
                break
            }
            entries.append(entry)
            offset = end
        }
        return entries
    }

    private static func record(_ body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 8)
        w.writeUInt32(UInt32(body.count))
        w.writeUInt32(CRC32C.checksum(body))
        w.writeRaw(body)
        return w.bytes
    }

    /// `bytes` followed by their CRC32C.
    private static func sealed(_ bytes: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: bytes.count + 4)
        w.writeRaw(bytes)
        w.writeUInt32(CRC32C.checksum(bytes))
        return w.bytes
    }

    /// What `sealed` wrote, checked.
    private static func unsealed(_ path: String) throws(StorageError) -> [UInt8] {
        let bytes = try DurableFile.read(path)
        guard bytes.count >= 4 else { throw .damagedFile(path: path, reason: "too short") }
        let body = Array(bytes.dropLast(4))
        guard CRC32C.checksum(body) == uint32(bytes, bytes.count - 4) else { throw .damagedFile(path: path, reason: "checksum does not match") }
        return body
    }

    private static func readState(_ path: String) throws(StorageError) -> (RaftTerm, ServerID?) {
        let body = try unsealed(path)
        do throws(WireError) {
            return try ByteReader.decodeAll(body) { (r: inout ByteReader) throws(WireError) in
                let term = try r.readVarint()
                switch try r.readUInt8() {
                case 0: return (term, nil)
                case 1: return (term, ServerID(try r.readString()))
                default: throw .invalidField("vote flag")
                }
            }
        } catch {
            throw .damagedFile(path: path, reason: error.message)
        }
    }

    private static func readSnapshot(_ path: String) throws(StorageError) -> RaftSnapshot {
        let body = try unsealed(path)
        do {
            return try RaftCodec.decodeSnapshot(body)
        } catch {
            throw .damagedFile(path: path, reason: error.message)
        }
    }

    private static func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
