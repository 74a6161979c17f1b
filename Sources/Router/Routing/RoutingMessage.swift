/// What partitions and operator homes tell each other, and what every router must hear of
/// them. Nothing in one calls into another: on one router the core's work list delivers
/// these in memory, in order; to a partition or home another router owns, the core hands
/// them to its shell (`RouterEffect.send`), which delivers them to that router's
/// `RouterCore.receive`.
public enum RoutingMessage: Sendable, Equatable {
    // MARK: partition → home

    /// Reserve one of the operator's slots for this waiting conversation; answered by
    /// `granted` or `denied`.
    case reserve(ConversationID, operator: OperatorID)
    /// A conversation the operator holds was accepted, missed, or no longer holds a slot.
    case notice(OperatorID, Partition.HomeNotice)
    /// The answer to `pull`: the conversation now offered to the operator, or none, with
    /// the partition's best for them when it did not beat the pull's bound.
    case pullAnswer(OperatorID, partition: Int, offered: ConversationID?, best: QueueRank?)
    /// After a restart: the operator is still active in this conversation.
    case adopt(OperatorID, ConversationID)

    // MARK: home → partition

    /// The home set a slot aside for the conversation: offer it to this operator.
    case granted(ConversationID, OperatorID)
    /// The home refused: try another operator.
    case denied(ConversationID, OperatorID)
    /// The operator has a slot set aside: offer them the best waiting conversation they may
    /// take here, if it ranks no later than `bound` (nil: whatever it is).
    case pull(partition: Int, OperatorID, bound: QueueRank?)
    /// The operator's disconnect grace ran out: the conversation goes back to the queue.
    case operatorLost(ConversationID, OperatorID)

    // MARK: to every router

    /// A partition's queue heads changed (nil: the lane is empty there). `complete`: these
    /// are all its lanes with a head, every other lane of it is empty (sent after a restart).
    case queueHeads(partition: Int, [LaneHead], complete: Bool)
    /// An operator's availability or load changed (from their home).
    case availability(OperatorSummary)
    /// A partition holds a conversation in `lane` that no operator it knows of could take:
    /// a router with a free operator who can should pull. (Its view of other routers'
    /// operators may be behind theirs.)
    case unclaimed(partition: Int, LaneKey)
    /// A router (re)started and knows nothing of the others: every router tells every other
    /// its homes' availability and its partitions' queue heads in full, and tells the homes
    /// which chats their operators have (`adopt`), since a restarted home counts none.
    case resync
    /// The ranks of the chats waiting in one of a partition's queues (site, skill), best
    /// first, at most `maxRanks` (empty: none wait): what the other routers count ahead of
    /// their own waiting visitors, so places in line are the cluster's, not one router's.
    /// Sent with the once-a-second refresh of places in line, when they changed.
    case queueRanks(partition: Int, SiteSkill, [QueueRank])

    /// The most ranks `queueRanks` carries: a visitor further back sees a place counted
    /// from what the others sent (a lower bound, told as such by the estimate).
    public static let maxRanks = 1_000

    /// One lane's head in one partition.
    public struct LaneHead: Sendable, Equatable {
        public var lane: LaneKey
        public var rank: QueueRank?
        public init(lane: LaneKey, rank: QueueRank?) { (self.lane, self.rank) = (lane, rank) }
    }

    /// Who a message is for.
    public enum Destination: Sendable, Equatable {
        case partition(Int)
        case home(OperatorID)
        case everyRouter
    }

    /// The partition numbers the message carries itself (not those its ids name).
    public var partitionsNamed: [Int] {
        switch self {
        case .pullAnswer(_, let partition, _, _), .pull(let partition, _, _), .queueHeads(let partition, _, _), .unclaimed(let partition, _),
             .queueRanks(let partition, _, _):
            [partition]
        case .reserve, .notice, .adopt, .granted, .denied, .operatorLost, .availability, .resync: []
        }
    }

    /// Who this message is for, under `placement`.
    public func destination(_ placement: Placement) -> Destination {
        switch self {
        case .reserve(_, let op), .notice(let op, _), .pullAnswer(let op, _, _, _), .adopt(let op, _): .home(op)
        case .granted(let id, _), .denied(let id, _), .operatorLost(let id, _): .partition(placement.partition(of: id))
        case .pull(let partition, _, _): .partition(partition)
        case .queueHeads, .availability, .unclaimed, .resync, .queueRanks: .everyRouter
        }
    }
}

/// The epochs a message between routers carries: those its sender holds for the partition
/// the message speaks for (`Placement.source`) and the one it is for (`Placement.target`;
/// 0 where there is none). The receiver refuses a message whose epochs are not its own
/// (`Placement.refusal`): that refusal fences a router that lost a partition and has not
/// heard.
public struct RoutingStamp: Sendable, Equatable {
    public var sourceEpoch: UInt64
    public var targetEpoch: UInt64

    public init(sourceEpoch: UInt64, targetEpoch: UInt64) {
        (self.sourceEpoch, self.targetEpoch) = (sourceEpoch, targetEpoch)
    }

    /// Why a message was refused.
    public enum Refusal: Sendable, Equatable {
        /// Its sender speaks for `partition` at `epoch`, but it is at `current`: the sender was replaced.
        case staleSource(partition: Int, epoch: UInt64, current: UInt64)
        /// It is for `partition` at `epoch`, but this router holds it at `current`.
        case otherTargetEpoch(partition: Int, epoch: UInt64, current: UInt64)
    }
}
