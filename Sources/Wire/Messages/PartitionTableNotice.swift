/// The committed partition table as routers push it to gateways (Wire type 27): its
/// version, the routers that own partitions with the Wire address each serves on, and each
/// partition's owner and epoch. A gateway keeps the newest version it was told and sends
/// each command to the owner of its partition.
///
/// ```
/// uvarint version
/// uvarint router count, each: string node id · string address ("" while not known)
/// uvarint partition count, each: uvarint owner (1 + index into the routers, 0: not placed) · uvarint epoch
/// ```
public struct PartitionTableNotice: Equatable, Sendable {
    public struct Router: Equatable, Sendable {
        public var node: String
        /// "host:port" gateways reach it at; "" while the pushing router has not learned it.
        public var address: String
        public init(node: String, address: String) { (self.node, self.address) = (node, address) }
    }

    public struct Entry: Equatable, Sendable {
        /// Index into `routers`; nil while the partition has no owner yet.
        public var owner: Int?
        public var epoch: UInt64
        public init(owner: Int?, epoch: UInt64) { (self.owner, self.epoch) = (owner, epoch) }
    }

    public var version: UInt64
    public var routers: [Router]
    public var partitions: [Entry]

    public init(version: UInt64, routers: [Router], partitions: [Entry]) {
        (self.version, self.routers, self.partitions) = (version, routers, partitions)
    }

    /// The router owning `partition`, if it is placed.
    public func owner(of partition: Int) -> Router? {
        guard partitions.indices.contains(partition), let index = partitions[partition].owner else { return nil }
        return routers[index]
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeVarint(version)
        writer.writeVarint(UInt64(routers.count))
        for router in routers {
            writer.writeString(router.node)
            writer.writeString(router.address)
        }
        writer.writeVarint(UInt64(partitions.count))
        for entry in partitions {
            writer.writeVarint(entry.owner.map { UInt64($0) + 1 } ?? 0)
            writer.writeVarint(entry.epoch)
        }
    }

    static func decode(from reader: inout ByteReader) throws(WireError) -> PartitionTableNotice {
        let version = try reader.readVarint()
        // Each router takes at least two bytes and each partition two: a count beyond what
        // is left is a lie, refused before anything is allocated for it.
        let routerCount = try reader.readVarint()
        guard routerCount <= UInt64(reader.remaining / 2) else { throw .invalidField("partitionTable.routers") }
        var routers: [Router] = []
        for _ in 0..<routerCount {
            routers.append(Router(node: try reader.readString(), address: try reader.readString()))
        }
        let partitionCount = try reader.readVarint()
        guard partitionCount >= 1, partitionCount <= UInt64(reader.remaining / 2), partitionCount <= 65_536 else { throw .invalidField("partitionTable.partitions") }
        var partitions: [Entry] = []
        partitions.reserveCapacity(Int(partitionCount))
        for _ in 0..<partitionCount {
            let owner = try reader.readVarint()
            guard owner <= UInt64(routers.count) else { throw .invalidField("partitionTable.owner") }
            partitions.append(Entry(owner: owner == 0 ? nil : Int(owner - 1), epoch: try reader.readVarint()))
        }
        return PartitionTableNotice(version: version, routers: routers, partitions: partitions)
    }
}
