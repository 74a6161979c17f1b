/// Maps conversation ids to partitions with a hash that never changes between builds,
/// processes or machines (Swift's `Hasher` is randomly seeded per process, so it cannot be
/// used for placement): 64-bit FNV-1a over the UTF-8 bytes, then the SplitMix64 finaliser
/// so that similar ids spread evenly.
public enum PartitionHash {
    /// The stable 64-bit hash of `id`.
    public static func hash(_ id: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in id.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }

    /// The partition (0..<count) that owns `conversation`.
    public static func partition(of conversation: ConversationID, count: Int) -> Int {
        precondition(count > 0, "partition count must be positive")
        return Int(hash(conversation.raw) % UInt64(count))
    }
}
