import Wire

/// The table's changes as the bytes of Raft entries, and the whole table as the bytes of a
/// Raft snapshot. Wire's encoding:
/// ```
/// change: u8 version (1) · u8 kind (1 assign, 2 shrink) · uvarint partition · uvarint expected epoch
///         assign: string owner, uvarint count, strings (in sync) · shrink: uvarint count, strings (removed)
/// table:  u8 version (1) · uvarint version · uvarint partitions, each: u8 0 | 1 + string owner,
///         uvarint epoch, uvarint count, strings (in sync)
/// ```
public enum PartitionTableCodec {
    static let version: UInt8 = 1

    public static func encode(_ change: PartitionTable.Change) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        w.writeUInt8(version)
        switch change {
        case .assign(let partition, let owner, let inSync, let expected):
            w.writeUInt8(1)
            w.writeVarint(UInt64(partition))
            w.writeVarint(expected)
            w.writeString(owner)
            writeNames(inSync, &w)
        case .shrink(let partition, let remove, let expected):
            w.writeUInt8(2)
            w.writeVarint(UInt64(partition))
            w.writeVarint(expected)
            writeNames(remove, &w)
        }
        return w.bytes
    }

    public static func decodeChange(_ bytes: [UInt8]) throws(WireError) -> PartitionTable.Change {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in
            guard try r.readUInt8() == version else { throw .invalidField("table change version") }
            let kind = try r.readUInt8()
            let partition = try smallInt(&r, "partition")
            let expected = try r.readVarint()
            switch kind {
            case 1: return .assign(partition: partition, owner: try r.readString(), inSync: try readNames(&r), expectedEpoch: expected)
            case 2: return .shrink(partition: partition, remove: try readNames(&r), expectedEpoch: expected)
            default: throw .invalidField("table change kind \(kind)")
            }
        }
    }

    public static func encode(_ table: PartitionTable) -> [UInt8] {
        var w = ByteWriter(capacity: 32 * table.partitions.count + 16)
        w.writeUInt8(version)
        w.writeVarint(table.version)
        w.writeVarint(UInt64(table.partitions.count))
        for entry in table.partitions {
            if let owner = entry.owner {
                w.writeUInt8(1)
                w.writeString(owner)
            } else {
                w.writeUInt8(0)
            }
            w.writeVarint(entry.epoch)
            writeNames(entry.inSync, &w)
        }
        return w.bytes
    }

    public static func decodeTable(_ bytes: [UInt8]) throws(WireError) -> PartitionTable {
        try ByteReader.decodeAll(bytes) { (r: inout ByteReader) throws(WireError) in
            guard try r.readUInt8() == version else { throw .invalidField("table version") }
            let tableVersion = try r.readVarint()
            let count = try smallInt(&r, "partition count")
            guard count <= r.remaining / 3 else { throw .invalidField("partition count \(count)") }
            var partitions: [PartitionAssignment] = []
            for _ in 0..<count {
                let owner: String?
                switch try r.readUInt8() {
                case 0: owner = nil
                case 1: owner = try r.readString()
                default: throw .invalidField("owner flag")
                }
                partitions.append(PartitionAssignment(owner: owner, epoch: try r.readVarint(), inSync: try readNames(&r)))
            }
            return PartitionTable(partitions: partitions, version: tableVersion)
        }
    }

    private static func writeNames(_ names: [String], _ w: inout ByteWriter) {
        w.writeVarint(UInt64(names.count))
        for name in names { w.writeString(name) }
    }

    private static func readNames(_ r: inout ByteReader) throws(WireError) -> [String] {
        let count = try r.readVarint()
        guard count <= UInt64(r.remaining) else { throw .invalidField("name count \(count)") }
        var names: [String] = []
        for _ in 0..<count { names.append(try r.readString()) }
        return names
    }

    /// A partition number or count: a cluster has at most 65,536 partitions.
    private static func smallInt(_ r: inout ByteReader, _ field: String) throws(WireError) -> Int {
        let value = try r.readVarint()
        guard value <= 65_536 else { throw .invalidField(field) }
        return Int(value)
    }
}
