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
///
/// In a cluster the control plane's table decides who owns what: each partition has an
/// epoch that grows with every change of owner, and every message between routers about a
/// partition carries the epoch its sender holds (`RoutingStamp`), so a router that lost a
/// partition and has not heard yet is refused (fenced) by those who have.
public struct Placement: Sendable, Equatable {
    /// Number of partitions (fixed for the life of the cluster).
    public let partitionCount: Int
    /// Which partitions this router owns, by index.
    private var owned: [Bool]
    /// Each partition's epoch, as this router last learned it from the table (0 before any).
    public private(set) var epochs: [UInt64]

    /// A router owning `owned` of `partitionCount` partitions (all of them by default: a
    /// router alone), each at `epochs` (all 0 by default).
    public init(partitionCount: Int, owned: Set<Int>? = nil, epochs: [UInt64]? = nil) {
        precondition(partitionCount > 0, "need at least one partition")
        precondition(epochs == nil || epochs!.count == partitionCount, "one epoch per partition")
        self.partitionCount = partitionCount
        self.owned = (0..<partitionCount).map { owned?.contains($0) ?? true }
        self.epochs = epochs ?? Array(repeating: 0, count: partitionCount)
    }

    /// What a newer table says of `partition`: its epoch, and whether this router owns it
    /// under that epoch. An older epoch than the one held changes nothing (tables arrive in
    /// order, but a late copy must not undo a newer one). Returns whether anything changed.
    @discardableResult
    public mutating func learn(partition: Int, epoch: UInt64, ownedHere: Bool) -> Bool {
        guard epoch >= epochs[partition], (epoch, ownedHere) != (epochs[partition], owned[partition]) else { return false }
        epochs[partition] = epoch
        owned[partition] = ownedHere
        return true
    }

    /// The partitions this router owns.
    public var ownedPartitions: [Int] { owned.indices.filter { owned[$0] } }

    /// Whether this router owns every partition (no other router to talk to).
    public var ownsEverything: Bool { !owned.contains(false) }

    /// Whether this router owns `partition`.
    public func owns(partition: Int) -> Bool { owned[partition] }

    /// The partition owning `conversation`.
    public func partition(of conversation: ConversationID) -> Int {
        PartitionKeys.partition(ofConversation: conversation.raw, count: partitionCount)
    }

    /// The partition a new chat of this visitor goes to.
    public func partition(ofVisitor visitor: VisitorID, site: SiteID) -> Int {
        PartitionKeys.partition(ofVisitor: visitor.raw, site: site.raw, count: partitionCount)
    }

    /// The partition whose router keeps operator `op`'s home.
    public func homePartition(of op: OperatorID) -> Int {
        PartitionKeys.homePartition(ofOperator: op.raw, count: partitionCount)
    }

    /// The partition whose router keeps the site's canned responses.
    public func sitePartition(of site: SiteID) -> Int {
        PartitionKeys.partition(ofSite: site.raw, count: partitionCount)
    }

    /// Whether this router keeps operator `op`'s home.
    public func ownsHome(of op: OperatorID) -> Bool { owned[homePartition(of: op)] }

    /// The partition a message speaks for (nil for one about no partition, `resync`): the
    /// conversation's for what a partition says, the operator's home's for what a home says.
    public func source(of message: RoutingMessage) -> Int? {
        switch message {
        case .reserve(let id, _), .adopt(_, let id), .notice(_, .accepted(let id)), .notice(_, .missed(let id)), .notice(_, .released(let id)):
            partition(of: id)
        case .pullAnswer(_, let index, _, _), .queueHeads(let index, _, _), .unclaimed(let index, _), .queueRanks(let index, _, _): index
        case .granted(_, let op), .denied(_, let op), .operatorLost(_, let op), .pull(_, let op, _): homePartition(of: op)
        case .availability(let summary): homePartition(of: summary.profile.id)
        case .resync: nil
        }
    }

    /// The partition a message is for (its home's, for a message to a home), or nil for one
    /// to every router.
    public func target(of message: RoutingMessage) -> Int? {
        switch message.destination(self) {
        case .partition(let index): index
        case .home(let op): homePartition(of: op)
        case .everyRouter: nil
        }
    }

    /// The epochs this router stamps on `message`: those it holds for its source and target.
    /// It speaks for a source partition only while it owns it: for one it lost, epoch 0,
    /// which every router that knows a later epoch refuses.
    public func stamp(_ message: RoutingMessage) -> RoutingStamp {
        let source = source(of: message).map { owns(partition: $0) ? epochs[$0] : 0 } ?? 0
        return RoutingStamp(sourceEpoch: source, targetEpoch: target(of: message).map { epochs[$0] } ?? 0)
    }

    /// Why this router refuses `message` stamped `stamp`, or nil to take it:
    /// - its source partition is at a later epoch here: the sender lost it and has not heard;
    /// - it is for a partition or home here under another epoch: an older one means the
    ///   sender is behind, a newer one that this router was replaced and has not heard.
    public func refusal(of message: RoutingMessage, stamp: RoutingStamp) -> RoutingStamp.Refusal? {
        if let source = source(of: message), stamp.sourceEpoch < epochs[source] {
            return .staleSource(partition: source, epoch: stamp.sourceEpoch, current: epochs[source])
        }
        if let target = target(of: message), stamp.targetEpoch != epochs[target] {
            return .otherTargetEpoch(partition: target, epoch: stamp.targetEpoch, current: epochs[target])
        }
        return nil
    }

    /// A new conversation id in `partition`, made unique by `random`.
    public static func conversationID(partition: Int, random: UInt64) -> ConversationID {
        ConversationID("p\(partition)-" + String(random, radix: 16))
    }
}
