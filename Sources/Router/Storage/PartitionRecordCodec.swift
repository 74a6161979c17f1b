import Wire

/// The binary form of `PartitionRecord`s in the log (docs/storage.md). Each body starts with
/// the partition number, then (in the log) the record's number in its partition's stream;
/// fields use Wire's payload encoding (uvarints, length-prefixed UTF-8).
///
/// ONLY APPEND to the type numbers and enum codes: they are stored on disk.
public enum PartitionRecordCodec {
    /// Record type bytes. Types 1-5 carry no stream sequence (snapshots, transcripts, and
    /// logs written before partitions had streams); the same kind plus `streamed` (11-15)
    /// carries one after the partition.
    public enum RecordType: UInt8, Sendable {
        case started = 1
        case event = 2
        case state = 3
        case declined = 4
        case rated = 5
    }

    /// Added to a record type when the body carries a stream sequence.
    public static let streamed: UInt8 = 10

    /// A decoded log record.
    public struct Decoded: Sendable, Equatable {
        /// The partition it belongs to.
        public var partition: Int
        /// Its number in the partition's stream (1, 2, ...), when the log gave it one.
        public var sequence: UInt64?
        /// The change itself.
        public var record: PartitionRecord

        public init(partition: Int, sequence: UInt64?, record: PartitionRecord) {
            (self.partition, self.sequence, self.record) = (partition, sequence, record)
        }
    }

    private static let stateCodes: [ConversationState] = [.queued, .offered, .active, .ended, .abandoned, .offline, .missed]

    /// The type byte and body of `record` for partition `partition`, as record `sequence`
    /// of the partition's stream (nil: outside any stream, as in a snapshot).
    public static func encode(_ record: PartitionRecord, partition: Int, sequence: UInt64? = nil) -> (type: UInt8, body: [UInt8]) {
        var w = ByteWriter(capacity: 128)
        w.writeVarint(UInt64(partition))
        if let sequence { w.writeVarint(sequence) }
        let type: RecordType
        switch record {
        case .started(let started):
            type = .started
            w.writeString(started.id.raw)
            w.writeString(started.site.raw)
            w.writeString(started.visitor.raw)
            w.writeString(started.requirement.skill.raw)
            w.writeUInt8(UInt8(started.requirement.minimumLevel))
            w.writeVarint(zigzag(Int64(started.priority)))
            w.writeVarint(started.time)
            w.writeVarint(UInt64(started.visitorProfile.count))
            for (key, value) in started.visitorProfile.sorted(by: { $0.key < $1.key }) {
                w.writeString(key)
                w.writeString(value)
            }
        case .event(let id, let event, let clientMessageID):
            type = .event
            w.writeString(id.raw)
            w.writeVarint(event.sequence)
            w.writeVarint(event.time)
            switch event.author {
            case .visitor: w.writeUInt8(0)
            case .operator(let op): w.writeUInt8(1); w.writeString(op.raw)
            case .system: w.writeUInt8(2)
            }
            switch event.kind {
            case .message(let text): w.writeUInt8(1); w.writeString(text)
            case .notice(let text): w.writeUInt8(2); w.writeString(text)
            case .transfer(let target, let note):
                w.writeUInt8(3)
                switch target {
                case .operator(let op): w.writeUInt8(1); w.writeString(op.raw)
                case .department(let skill): w.writeUInt8(2); w.writeString(skill.raw)
                }
                w.writeString(note)
            case .attachment(let file):
                w.writeUInt8(4)
                w.writeString(file.id)
                w.writeString(file.name)
                w.writeString(file.contentType)
                w.writeVarint(UInt64(file.size))
            }
            writeOptional(clientMessageID, &w)
        case .state(let change):
            type = .state
            w.writeString(change.id.raw)
            w.writeUInt8(UInt8(stateCodes.firstIndex(of: change.state)!))
            writeOptional(change.assignedOperator?.raw, &w)
            w.writeString(change.requirement.skill.raw)
            w.writeUInt8(UInt8(change.requirement.minimumLevel))
            if let rank = change.rank {
                w.writeUInt8(1)
                w.writeVarint(zigzag(rank.virtualTime))
                w.writeVarint(rank.serial)
            } else {
                w.writeUInt8(0)
            }
            w.writeVarint(change.queuedAt)
            w.writeVarint(change.time)
        case .declined(let id, let op):
            type = .declined
            w.writeString(id.raw)
            w.writeString(op.raw)
        case .rated(let id, let rating):
            type = .rated
            w.writeString(id.raw)
            w.writeUInt8(UInt8(clamping: rating.score))
            w.writeString(rating.comment)
        }
        return (type.rawValue + (sequence == nil ? 0 : streamed), w.bytes)
    }

    /// Decodes a record body; throws `WireError` on malformed bytes.
    public static func decode(type rawType: UInt8, body: [UInt8]) throws(WireError) -> Decoded {
        let isStreamed = rawType > streamed
        guard let type = RecordType(rawValue: isStreamed ? rawType - streamed : rawType) else { throw .invalidField("record type \(rawType)") }
        let result = body.withUnsafeBytes { raw in Result { () throws(WireError) in try decodeBody(type, streamed: isStreamed, raw) } }
        return try result.get()
    }

    private static func decodeBody(_ type: RecordType, streamed: Bool, _ raw: UnsafeRawBufferPointer) throws(WireError) -> Decoded {
        var r = ByteReader(raw)
        let partition = Int(clamping: try r.readVarint())
        let sequence = streamed ? try r.readVarint() : nil
        if let sequence, sequence == 0 { throw .invalidField("stream sequence 0") }
        let record: PartitionRecord
        switch type {
        case .started:
            let id = ConversationID(try r.readString())
            let site = SiteID(try r.readString())
            let visitor = VisitorID(try r.readString())
            let requirement = Requirement(skill: Skill(try r.readString()), minimumLevel: Int(try r.readUInt8()))
            let priority = Int(unzigzag(try r.readVarint()))
            let time = try r.readVarint()
            let count = try r.readVarint()
            guard count <= 64 else { throw .invalidField("visitor profile of \(count) fields") }
            var profile: [String: String] = [:]
            for _ in 0..<count {
                let key = try r.readString()
                profile[key] = try r.readString()
            }
            record = .started(.init(id: id, site: site, visitor: visitor, requirement: requirement, priority: priority, time: time,
                                    visitorProfile: profile))
        case .event:
            let id = ConversationID(try r.readString())
            let sequence = try r.readVarint()
            let time = try r.readVarint()
            let author: Author
            switch try r.readUInt8() {
            case 0: author = .visitor
            case 1: author = .operator(OperatorID(try r.readString()))
            case 2: author = .system
            case let code: throw .invalidField("author \(code)")
            }
            let kind: EventKind
            switch try r.readUInt8() {
            case 1: kind = .message(text: try r.readString())
            case 2: kind = .notice(text: try r.readString())
            case 3:
                let target: TransferTarget
                switch try r.readUInt8() {
                case 1: target = .operator(OperatorID(try r.readString()))
                case 2: target = .department(Skill(try r.readString()))
                case let code: throw .invalidField("transfer target \(code)")
                }
                kind = .transfer(to: target, note: try r.readString())
            case 4:
                let (id, name, contentType) = (try r.readString(), try r.readString(), try r.readString())
                kind = .attachment(AttachmentFile(id: id, name: name, contentType: contentType, size: Int(clamping: try r.readVarint())))
            case let code: throw .invalidField("event kind \(code)")
            }
            let event = ConversationEvent(sequence: sequence, time: time, author: author, kind: kind)
            record = .event(id, event, clientMessageID: try readOptional(&r))
        case .state:
            let id = ConversationID(try r.readString())
            let code = Int(try r.readUInt8())
            guard code < stateCodes.count else { throw .invalidField("state \(code)") }
            let op = try readOptional(&r).map(OperatorID.init)
            let requirement = Requirement(skill: Skill(try r.readString()), minimumLevel: Int(try r.readUInt8()))
            var rank: QueueRank?
            if try r.readUInt8() == 1 {
                let virtualTime = unzigzag(try r.readVarint())
                rank = QueueRank(virtualTime: virtualTime, serial: try r.readVarint())
            }
            let queuedAt = try r.readVarint()
            record = .state(.init(id: id, state: stateCodes[code], assignedOperator: op, requirement: requirement, rank: rank,
                                  queuedAt: queuedAt, time: try r.readVarint()))
        case .declined:
            record = .declined(ConversationID(try r.readString()), OperatorID(try r.readString()))
        case .rated:
            let id = ConversationID(try r.readString())
            let score = Int(try r.readUInt8())
            record = .rated(id, Rating(score: score, comment: try r.readString()))
        }
        guard r.isAtEnd else { throw .trailingBytes(r.remaining) }
        return Decoded(partition: partition, sequence: sequence, record: record)
    }

    private static func writeOptional(_ value: String?, _ w: inout ByteWriter) {
        if let value {
            w.writeUInt8(1)
            w.writeString(value)
        } else {
            w.writeUInt8(0)
        }
    }

    private static func readOptional(_ r: inout ByteReader) throws(WireError) -> String? {
        try r.readUInt8() == 1 ? try r.readString() : nil
    }

    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    private static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
}
