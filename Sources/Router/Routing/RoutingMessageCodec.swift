import Wire

/// A `RoutingMessage` and its `RoutingStamp` in bytes, as one router sends them to another
/// inside a Wire frame body. Wire's encoding:
/// ```
/// u8 version (1) · uvarint source epoch · uvarint target epoch · u8 kind · fields of the kind
///  1 reserve       string conversation · string operator
///  2 notice        string operator · u8 notice (0 accepted, 1 missed, 2 released) · string conversation
///  3 pullAnswer    string operator · partition · optional string offered · optional rank best
///  4 adopt         string operator · string conversation
///  5 granted       string conversation · string operator
///  6 denied        string conversation · string operator
///  7 pull          partition · string operator · optional rank bound
///  8 operatorLost  string conversation · string operator
///  9 queueHeads    partition · uvarint head count, each: lane, optional rank · u8 complete
/// 10 availability  uvarint length · that many bytes of `OperatorSummaryCodec`
/// 11 unclaimed     partition · lane
/// 12 resync        (nothing)
/// 13 queueRanks    partition · string site · string skill · uvarint count (≤ 1,000), each: rank
/// partition: uvarint (at most 1,000,000) · lane: string site, string skill, u8 level (1-5)
/// rank: zigzag uvarint virtual time · uvarint serial · optional x: u8 0 | u8 1 · x
/// ```
/// Flags are exactly 0 or 1, like every other field checked on decode, so each value has
/// one encoding and a corrupt byte is refused rather than read as something else.
public enum RoutingMessageCodec {
    static let version: UInt8 = 1
    /// More partitions than this is a corrupt number, not a partition count.
    static let maxPartition: UInt64 = 1_000_000
    /// The fewest bytes a lane head takes (three empty-string or one-byte fields and a flag),
    /// which bounds a head count by the bytes left before anything is allocated.
    static let minimumHeadSize = 4

    /// ONLY APPEND TO THIS LIST: the numbers are part of the protocol between routers
    /// (in `RoutingMessage`'s declaration order).
    enum Kind: UInt8 {
        case reserve = 1, notice, pullAnswer, adopt, granted, denied, pull, operatorLost
        case queueHeads, availability, unclaimed, resync, queueRanks
    }

    /// The bytes of `message` as sent between routers, with the epochs its sender holds.
    public static func encode(_ message: RoutingMessage, stamp: RoutingStamp) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.writeUInt8(version)
        w.writeVarint(stamp.sourceEpoch)
        w.writeVarint(stamp.targetEpoch)
        w.writeUInt8(kind(of: message).rawValue)
        switch message {
        case .reserve(let id, let op), .granted(let id, let op), .denied(let id, let op), .operatorLost(let id, let op):
            w.writeString(id.raw)
            w.writeString(op.raw)
        case .notice(let op, let notice):
            w.writeString(op.raw)
            writeNotice(notice, &w)
        case .pullAnswer(let op, let partition, let offered, let best):
            w.writeString(op.raw)
            w.writeVarint(UInt64(partition))
            writeOptional(offered, &w)
            writeOptional(best, &w)
        case .adopt(let op, let id):
            w.writeString(op.raw)
            w.writeString(id.raw)
        case .pull(let partition, let op, let bound):
            w.writeVarint(UInt64(partition))
            w.writeString(op.raw)
            writeOptional(bound, &w)
        case .queueHeads(let partition, let heads, let complete):
            w.writeVarint(UInt64(partition))
            w.writeVarint(UInt64(heads.count))
            for head in heads {
                writeLane(head.lane, &w)
                writeOptional(head.rank, &w)
            }
            w.writeUInt8(complete ? 1 : 0)
        case .availability(let summary):
            w.writeBytes(OperatorSummaryCodec.encode(summary))
        case .unclaimed(let partition, let lane):
            w.writeVarint(UInt64(partition))
            writeLane(lane, &w)
        case .resync:
            break
        case .queueRanks(let partition, let queue, let ranks):
            w.writeVarint(UInt64(partition))
            w.writeString(queue.site.raw)
            w.writeString(queue.skill.raw)
            w.writeVarint(UInt64(ranks.count))
            for rank in ranks { writeRank(rank, &w) }
        }
        return w.bytes
    }

    /// The message and stamp in `bytes`; every field checked, nothing left over.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> (RoutingMessage, RoutingStamp) {
        try ByteReader.decodeAll(bytes, read)
    }

    private static func read(_ r: inout ByteReader) throws(WireError) -> (RoutingMessage, RoutingStamp) {
        guard try r.readUInt8() == version else { throw .invalidField("routing message version") }
        let sourceEpoch = try r.readVarint(), targetEpoch = try r.readVarint()
        let code = try r.readUInt8()
        guard let kind = Kind(rawValue: code) else { throw .invalidField("routing message kind \(code)") }
        let message: RoutingMessage
        switch kind {
        case .reserve, .granted, .denied, .operatorLost:
            let id = ConversationID(try r.readString()), op = OperatorID(try r.readString())
            message = switch kind {
            case .reserve: .reserve(id, operator: op)
            case .granted: .granted(id, op)
            case .denied: .denied(id, op)
            default: .operatorLost(id, op)
            }
        case .notice:
            let op = OperatorID(try r.readString())
            message = .notice(op, try readNotice(&r))
        case .pullAnswer:
            let op = OperatorID(try r.readString()), partition = try readPartition(&r)
            let offered = try flag(&r, "offered") ? ConversationID(try r.readString()) : nil
            message = .pullAnswer(op, partition: partition, offered: offered, best: try readOptionalRank(&r, "best"))
        case .adopt:
            let op = OperatorID(try r.readString())
            message = .adopt(op, ConversationID(try r.readString()))
        case .pull:
            let partition = try readPartition(&r), op = OperatorID(try r.readString())
            message = .pull(partition: partition, op, bound: try readOptionalRank(&r, "bound"))
        case .queueHeads:
            let partition = try readPartition(&r)
            let count = try r.readVarint()
            guard count <= UInt64(r.remaining / minimumHeadSize) else { throw .invalidField("lane head count \(count)") }
            var heads: [RoutingMessage.LaneHead] = []
            for _ in 0..<count {
                let lane = try readLane(&r)
                heads.append(.init(lane: lane, rank: try readOptionalRank(&r, "head rank")))
            }
            message = .queueHeads(partition: partition, heads, complete: try flag(&r, "complete"))
        case .availability:
            message = .availability(try OperatorSummaryCodec.decode(try r.readBytes()))
        case .unclaimed:
            let partition = try readPartition(&r)
            message = .unclaimed(partition: partition, try readLane(&r))
        case .resync:
            message = .resync
        case .queueRanks:
            let partition = try readPartition(&r)
            let queue = SiteSkill(site: SiteID(try r.readString()), skill: Skill(try r.readString()))
            let count = try r.readVarint()
            // Each rank takes at least two bytes.
            guard count <= UInt64(RoutingMessage.maxRanks), count <= UInt64(r.remaining / 2) else { throw .invalidField("rank count \(count)") }
            var ranks: [QueueRank] = []
            for _ in 0..<count { ranks.append(try readRank(&r)) }
            message = .queueRanks(partition: partition, queue, ranks)
        }
        return (message, RoutingStamp(sourceEpoch: sourceEpoch, targetEpoch: targetEpoch))
    }

    private static func kind(of message: RoutingMessage) -> Kind {
        switch message {
        case .reserve: .reserve
        case .notice: .notice
        case .pullAnswer: .pullAnswer
        case .adopt: .adopt
        case .granted: .granted
        case .denied: .denied
        case .pull: .pull
        case .operatorLost: .operatorLost
        case .queueHeads: .queueHeads
        case .availability: .availability
        case .unclaimed: .unclaimed
        case .resync: .resync
        case .queueRanks: .queueRanks
        }
    }

    // MARK: fields

    private static func writeNotice(_ notice: Partition.HomeNotice, _ w: inout ByteWriter) {
        switch notice {
        case .accepted(let id): w.writeUInt8(0); w.writeString(id.raw)
        case .missed(let id): w.writeUInt8(1); w.writeString(id.raw)
        case .released(let id): w.writeUInt8(2); w.writeString(id.raw)
        }
    }

    private static func readNotice(_ r: inout ByteReader) throws(WireError) -> Partition.HomeNotice {
        let code = try r.readUInt8()
        guard code <= 2 else { throw .invalidField("home notice \(code)") }
        let id = ConversationID(try r.readString())
        return code == 0 ? .accepted(id) : code == 1 ? .missed(id) : .released(id)
    }

    private static func writeLane(_ lane: LaneKey, _ w: inout ByteWriter) {
        w.writeString(lane.site.raw)
        w.writeString(lane.skill.raw)
        w.writeUInt8(UInt8(lane.level))
    }

    private static func readLane(_ r: inout ByteReader) throws(WireError) -> LaneKey {
        let site = SiteID(try r.readString()), skill = Skill(try r.readString())
        let level = try r.readUInt8()
        guard (1...5).contains(level) else { throw .invalidField("lane level \(level)") }
        return LaneKey(site: site, skill: skill, level: Int(level))
    }

    private static func writeOptional(_ id: ConversationID?, _ w: inout ByteWriter) {
        guard let id else { return w.writeUInt8(0) }
        w.writeUInt8(1)
        w.writeString(id.raw)
    }

    /// ByteWriter has no signed integer, so the virtual time is zigzagged as in
    /// `PartitionRecordCodec`: `Int64.min` (the front of a queue) must survive.
    private static func writeOptional(_ rank: QueueRank?, _ w: inout ByteWriter) {
        guard let rank else { return w.writeUInt8(0) }
        w.writeUInt8(1)
        writeRank(rank, &w)
    }

    private static func writeRank(_ rank: QueueRank, _ w: inout ByteWriter) {
        w.writeVarint(zigzag(rank.virtualTime))
        w.writeVarint(rank.serial)
    }

    private static func readOptionalRank(_ r: inout ByteReader, _ field: String) throws(WireError) -> QueueRank? {
        guard try flag(&r, field) else { return nil }
        return try readRank(&r)
    }

    private static func readRank(_ r: inout ByteReader) throws(WireError) -> QueueRank {
        let virtualTime = unzigzag(try r.readVarint())
        return QueueRank(virtualTime: virtualTime, serial: try r.readVarint())
    }

    private static func readPartition(_ r: inout ByteReader) throws(WireError) -> Int {
        let value = try r.readVarint()
        guard value <= maxPartition else { throw .invalidField("partition \(value)") }
        return Int(value)
    }

    private static func flag(_ r: inout ByteReader, _ field: String) throws(WireError) -> Bool {
        switch try r.readUInt8() {
        case 0: return false
        case 1: return true
        default: throw .invalidField(field)
        }
    }

    private static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
    private static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: value >> 1) ^ -Int64(bitPattern: value & 1) }
}
