/// A small, fast, seedable random number generator (SplitMix64). Used wherever randomness
/// must be injectable: backoff jitter, tests, simulations and load generation, so that a
/// run can be repeated from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return StableHash.finalise(state)
    }
}
