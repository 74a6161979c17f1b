import Wire

/// Which router owns each partition, and which hold its replicas: rendezvous (highest
/// random weight) hashing of partitions over the alive routers. Every node computes the same
/// map from the same membership, with no coordination; when a router leaves, only its
/// partitions move, and when it returns it gets exactly those back. Pure.
public struct PartitionMap: Equatable, Sendable {
    /// Number of partitions (fixed for the life of a cluster).
    public let partitionCount: Int
    /// Copies of each partition: the owner plus `replicas - 1` followers.
    public let replicas: Int
    /// The routers the map was computed over, sorted.
    public let nodes: [String]
    /// For each partition, its routers in preference order: owner first.
    public let placement: [[String]]

    /// The map for `nodes` (alive routers, any order).
    public init(partitionCount: Int, replicas: Int, nodes: [String]) {
        precondition(partitionCount > 0 && replicas > 0, "need partitions and at least one copy")
        self.partitionCount = partitionCount
        self.replicas = replicas
        self.nodes = Array(Set(nodes)).sorted()
        let members = self.nodes
        placement = (0..<partitionCount).map { partition in
            Array(members.sorted { Self.weight($0, partition) > Self.weight($1, partition) }.prefix(replicas))
        }
    }

    /// The owner of `partition`, or nil with no routers.
    public func owner(of partition: Int) -> String? { placement[partition].first }

    /// The routers holding `partition` (owner first).
    public func holders(of partition: Int) -> [String] { placement[partition] }

    /// The partitions `node` owns.
    public func owned(by node: String) -> [Int] { (0..<partitionCount).filter { owner(of: $0) == node } }

    /// Partitions whose owner differs between two maps (what must be handed over).
    public func moves(to other: PartitionMap) -> [Int] {
        (0..<min(partitionCount, other.partitionCount)).filter { owner(of: $0) != other.owner(of: $0) }
    }

    /// The weight of `node` for `partition`: the stable hash of the node id and partition number.
    static func weight(_ node: String, _ partition: Int) -> UInt64 {
        StableHash.hash(node, UInt64(partition))
    }
}
