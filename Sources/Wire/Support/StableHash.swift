/// A 64-bit hash that never changes between builds, processes or machines (Swift's `Hasher`
/// is seeded randomly per process, so it cannot place data): FNV-1a over the bytes, then
/// the SplitMix64 finaliser so that similar inputs spread evenly. Used to place
/// conversations in partitions and partitions on routers; changing it would move them all.
public enum StableHash {
    private static let offset: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The stable hash of a string's UTF-8 bytes.
    public static func hash(_ string: String) -> UInt64 {
        finalise(fnv1a(string.utf8, continuing: offset))
    }

    /// The stable hash of a string followed by a number (a node's weight for a partition).
    public static func hash(_ string: String, _ number: UInt64) -> UInt64 {
        finalise((fnv1a(string.utf8, continuing: offset) ^ number) &* prime)
    }

    /// The SplitMix64 output function: a bijective scramble of 64 bits.
    public static func finalise(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func fnv1a<Bytes: Sequence>(_ bytes: Bytes, continuing start: UInt64) -> UInt64 where Bytes.Element == UInt8 {
        var hash = start
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= prime
        }
        return hash
    }
}
