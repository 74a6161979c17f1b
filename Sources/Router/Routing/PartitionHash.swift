import Wire

/// Maps conversation ids to partitions with `StableHash`, which never changes between
/// builds, processes or machines.
public enum PartitionHash {
    /// The stable 64-bit hash of `id`.
    public static func hash(_ id: String) -> UInt64 {
        StableHash.hash(id)
    }

    /// The partition (0..<count) that owns `conversation`.
    public static func partition(of conversation: ConversationID, count: Int) -> Int {
        precondition(count > 0, "partition count must be positive")
        return Int(hash(conversation.raw) % UInt64(count))
    }
}
