import Wire

/// Where everything lives: which partition owns a conversation, a visitor and an operator's
/// home, and which partitions this router owns. Every router computes the same answers from
/// the same partition count, so a command can be sent straight to its owner. Pure.
///
/// - A conversation id names its partition (`p<partition>-<random hex>`), so finding its
///   owner needs no lookup. Ids minted before ids carried a partition (`c<hex>`) are placed
///   by their stable hash, as they always were.
/// - A new chat goes to the partition of hash(site, visitor): that partition owns "one open
///   chat per visitor" and the visitor's tracking.
/// - An operator's home lives with partition hash(operator).
public struct Placement: Sendable, Equatable {
    /// Number of partitions (fixed for the life of the cluster).
    public let partitionCount: Int
    /// Which partitions this router owns, by index.
    private let owned: [Bool]

    /// A router owning `owned` of `partitionCount` partitions (all of them by default: a
    /// router alone).
    public init(partitionCount: Int, owned: Set<Int>? = nil) {
        precondition(partitionCount > 0, "need at least one partition")
        self.partitionCount = partitionCount
        self.owned = (0..<partitionCount).map { owned?.contains($0) ?? true }
    }

    /// The partitions this router owns.
    public var ownedPartitions: [Int] { owned.indices.filter { owned[$0] } }

    /// Whether this router owns every partition (no other router to talk to).
    public var ownsEverything: Bool { !owned.contains(false) }

    /// Whether this router owns `partition`.
    public func owns(partition: Int) -> Bool { owned[partition] }

    /// The partition owning `conversation`.
    public func partition(of conversation: ConversationID) -> Int {
        Self.namedPartition(conversation.raw).flatMap { $0 < partitionCount ? $0 : nil }
            ?? PartitionHash.partition(of: conversation, count: partitionCount)
    }

    /// The partition a new chat of this visitor goes to.
    public func partition(ofVisitor visitor: VisitorID, site: SiteID) -> Int {
        Int(StableHash.hash(site.raw + "\u{1F}" + visitor.raw) % UInt64(partitionCount))
    }

    /// The partition whose router keeps operator `op`'s home.
    public func homePartition(of op: OperatorID) -> Int {
        Int(StableHash.hash("operator\u{1F}" + op.raw) % UInt64(partitionCount))
    }

    /// Whether this router keeps operator `op`'s home.
    public func ownsHome(of op: OperatorID) -> Bool { owned[homePartition(of: op)] }

    /// A new conversation id in `partition`, made unique by `random`.
    public static func conversationID(partition: Int, random: UInt64) -> ConversationID {
        ConversationID("p\(partition)-" + String(random, radix: 16))
    }

    /// The partition a `p<n>-…` id names, or nil for any other id.
    static func namedPartition(_ raw: String) -> Int? {
        var bytes = raw.utf8.makeIterator()
        guard bytes.next() == UInt8(ascii: "p") else { return nil }
        var value = 0
        var digits = 0
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "-") { return digits > 0 && bytes.next() != nil ? value : nil }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 6 else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return nil
    }
}
