/// What the router core asks its shell to do.
public enum RouterEffect: Sendable, Equatable {
    /// Append `record` to partition `partition`'s log; hold every later effect until it is durable.
    case persist(partition: Int, PartitionRecord)
    /// Deliver to the visitor of a conversation.
    case toVisitor(ConversationID, VisitorNotice)
    /// Deliver to an operator.
    case toOperator(OperatorID, OperatorNotice)
    /// Call `onTimer` with this timer at this instant.
    case schedule(RouterTimer, at: Instant)
    /// Deliver to the router that owns the message's partition or home, or to every other
    /// router (`RoutingMessage.destination`), in order, once what came before is durable.
    case send(RoutingMessage)
    /// A home here published a new summary of its operator: for the shell to gossip to the
    /// other routers (presence), whether or not it sends `availability` messages too.
    case published(OperatorSummary)
}

/// Timers of the router core.
public enum RouterTimer: Sendable, Equatable, Hashable {
    /// A partition's timer.
    case partition(Int, Partition.PartitionTimer)
    /// An operator's disconnect grace period.
    case grace(OperatorID, token: UInt64)
    /// The end of an operator's presence grace (shown online a little after the last console went).
    case presenceGrace(OperatorID, token: UInt64)
}
