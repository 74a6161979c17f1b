import Wire

/// Raft's values in bytes: entries and snapshots as the log stores them, envelopes as
/// routers send them (`ControlDatagram`). Wire's encoding (uvarints, length-prefixed
/// strings and bytes):
/// ```
/// configuration: uvarint voters, strings (sorted) · uvarint observers, strings (sorted)
/// entry:    uvarint term · uvarint index · u8 kind: 1 command (bytes) · 2 configuration · 3 no-op
/// snapshot: uvarint last index · uvarint last term · configuration · bytes data
/// envelope: u8 version (1) · string from · uvarint term · u8 message:
///   1 requestVote (u8 pre-vote, uvarint last log index, uvarint last log term)
///   2 voteResponse (u8 pre-vote, u8 granted)
///   3 appendEntries (uvarint prev index, uvarint prev term, uvarint count, entries, uvarint leader commit)
///   4 appendResponse (u8 success, uvarint match index, uvarint conflict index, u8 0 | 1 + uvarint conflict term)
///   5 installSnapshot (snapshot) · 6 snapshotResponse (uvarint match index)
/// ```
public enum RaftCodec {
    static let version: UInt8 = 1

    // MARK: envelopes

    public static func encode(_ envelope: RaftEnvelope) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.writeUInt8(version)
        w.writeString(envelope.from.name)
        w.writeVarint(envelope.term)
        switch envelope.message {
        case .requestVote(let request):
            w.writeUInt8(1)
            w.writeBool(request.preVote)
            w.writeVarint(request.lastLogIndex)
            w.writeVarint(request.lastLogTerm)
        case .voteResponse(let response):
            w.writeUInt8(2)
            w.writeBool(response.preVote)
            w.writeBool(response.granted)
        case .appendEntries(let append):
            w.writeUInt8(3)
            w.writeVarint(append.prevLogIndex)
            w.writeVarint(append.prevLogTerm)
            w.writeVarint(UInt64(append.entries.count))
            for entry in append.entries { write(entry, &w) }
            w.writeVarint(append.leaderCommit)
        case .appendResponse(let response):
            w.writeUInt8(4)
            w.writeBool(response.success)
            w.writeVarint(response.matchIndex)
            w.writeVarint(response.conflictIndex)
            if let term = response.conflictTerm {
                w.writeUInt8(1)
                w.writeVarint(term)
            } else {
                w.writeUInt8(0)
            }
        case .installSnapshot(let install):
            w.writeUInt8(5)
            write(install.snapshot, &w)
        case .snapshotResponse(let response):
            w.writeUInt8(6)
            w.writeVarint(response.matchIndex)
        }
        return w.bytes
    }

    public static func decodeEnvelope(_ bytes: [UInt8]) throws(WireError) -> RaftEnvelope {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in
            guard try r.readUInt8() == version else { throw .invalidField("raft envelope version") }
            let from = ServerID(try r.readString())
            let term = try r.readVarint()
            let message: RaftMessage
            switch try r.readUInt8() {
            case 1: message = .requestVote(VoteRequest(preVote: try r.readBool(), lastLogIndex: try r.readVarint(), lastLogTerm: try r.readVarint()))
            case 2: message = .voteResponse(VoteResponse(preVote: try r.readBool(), granted: try r.readBool()))
            case 3:
                let (prevIndex, prevTerm) = (try r.readVarint(), try r.readVarint())
                let count = try r.readVarint()
                // An entry takes at least 3 bytes: a count beyond what is left is a lie.
                guard count <= UInt64(r.remaining / 3) else { throw .invalidField("entry count \(count)") }
                // The entries follow prevIndex one by one (the log's rules trap on anything else).
                guard prevIndex <= UInt64.max - count else { throw .invalidField("entry index overflow") }
                var entries: [RaftEntry] = []
                for offset in 0..<count {
                    let entry = try readEntry(&r)
                    guard entry.index == prevIndex + 1 + offset else { throw .invalidField("entry index \(entry.index)") }
                    entries.append(entry)
                }
                message = .appendEntries(AppendEntries(prevLogIndex: prevIndex, prevLogTerm: prevTerm, entries: entries, leaderCommit: try r.readVarint()))
            case 4:
                let (success, match, conflict) = (try r.readBool(), try r.readVarint(), try r.readVarint())
                let term: RaftTerm?
                switch try r.readUInt8() {
                case 0: term = nil
                case 1: term = try r.readVarint()
                default: throw .invalidField("conflict term flag")
                }
                message = .appendResponse(AppendResponse(success: success, matchIndex: match, conflictIndex: conflict, conflictTerm: term))
            case 5: message = .installSnapshot(InstallSnapshot(snapshot: try readSnapshot(&r)))
            case 6: message = .snapshotResponse(SnapshotResponse(matchIndex: try r.readVarint()))
            case let kind: throw .invalidField("raft message \(kind)")
            }
            return RaftEnvelope(from: from, term: term, message: message)
        }
    }

    /// A message prefixed with its group's name (`string group · the rest`).
    public static func withGroup(_ group: String, _ body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + group.utf8.count + 2)
        w.writeString(group)
        w.writeRaw(body)
        return w.bytes
    }

    /// The group's name and the rest, from what `withGroup` made.
    public static func splitGroup(_ bytes: [UInt8]) throws(WireError) -> (group: String, body: [UInt8]) {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in
            (try r.readString(), Array(try r.readRawView(count: r.remaining)))
        }
    }

    // MARK: entries and snapshots

    public static func encode(_ entry: RaftEntry) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        write(entry, &w)
        return w.bytes
    }

    public static func decodeEntry(_ bytes: [UInt8]) throws(WireError) -> RaftEntry {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in try readEntry(&r) }
    }

    public static func encode(_ snapshot: RaftSnapshot) -> [UInt8] {
        var w = ByteWriter(capacity: snapshot.data.count + 64)
        write(snapshot, &w)
        return w.bytes
    }

    public static func decodeSnapshot(_ bytes: [UInt8]) throws(WireError) -> RaftSnapshot {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in try readSnapshot(&r) }
    }

    static func write(_ entry: RaftEntry, _ w: inout ByteWriter) {
        w.writeVarint(entry.term)
        w.writeVarint(entry.index)
        switch entry.kind {
        case .command(let bytes):
            w.writeUInt8(1)
            w.writeBytes(bytes)
        case .configuration(let configuration):
            w.writeUInt8(2)
            write(configuration, &w)
        case .noop:
            w.writeUInt8(3)
        }
    }

    static func readEntry(_ r: inout ByteReader) throws(WireError) -> RaftEntry {
        let (term, index) = (try r.readVarint(), try r.readVarint())
        let kind: RaftEntryKind
        switch try r.readUInt8() {
        case 1: kind = .command(try r.readBytes())
        case 2: kind = .configuration(try readConfiguration(&r))
        case 3: kind = .noop
        case let other: throw .invalidField("raft entry kind \(other)")
        }
        return RaftEntry(term: term, index: index, kind: kind)
    }

    static func write(_ snapshot: RaftSnapshot, _ w: inout ByteWriter) {
        w.writeVarint(snapshot.lastIndex)
        w.writeVarint(snapshot.lastTerm)
        write(snapshot.configuration, &w)
        w.writeBytes(snapshot.data)
    }

    static func readSnapshot(_ r: inout ByteReader) throws(WireError) -> RaftSnapshot {
        RaftSnapshot(lastIndex: try r.readVarint(), lastTerm: try r.readVarint(), configuration: try readConfiguration(&r), data: try r.readBytes())
    }

    static func write(_ configuration: RaftConfiguration, _ w: inout ByteWriter) {
        for group in [configuration.voters, configuration.observers] {
            w.writeVarint(UInt64(group.count))
            for server in group.sorted() { w.writeString(server.name) }
        }
    }

    static func readConfiguration(_ r: inout ByteReader) throws(WireError) -> RaftConfiguration {
        var groups: [Set<ServerID>] = []
        for _ in 0..<2 {
            let count = try r.readVarint()
            guard count <= UInt64(r.remaining) else { throw .invalidField("server count \(count)") }
            var group = Set<ServerID>()
            for _ in 0..<count { group.insert(ServerID(try r.readString())) }
            groups.append(group)
        }
        return RaftConfiguration(voters: groups[0], observers: groups[1])
    }
}
