import Foundation

/// The constants of the membership protocol, in one place, each with its reason. Two
/// presets: `lan`, memberlist's LAN defaults (hashicorp/memberlist config.go,
/// DefaultLANConfig), and `fast`, for a lab or loopback where a crash should be seen in
/// about a second.
public struct SWIMSettings: Sendable, Equatable {
    /// How often a member probes one other member (a protocol period).
    public var probeInterval: UInt64
    /// How long a direct probe waits for its ack before asking others to probe indirectly.
    public var probeTimeout: UInt64
    /// Members asked to probe indirectly when a direct probe times out.
    public var indirectChecks: Int
    /// Suspicion lasts `suspicionMultiplier × log10(N) × probeInterval` at least.
    public var suspicionMultiplier: Int
    /// ... and at most `suspicionMaxMultiplier` times that, shrinking with confirmations.
    public var suspicionMaxMultiplier: Int
    /// An update is piggybacked `retransmitMultiplier × ⌈log10(N + 1)⌉` times.
    public var retransmitMultiplier: Int
    /// How often updates are also sent, apart from probes, to `gossipFanout` random members.
    public var gossipInterval: UInt64
    public var gossipFanout: Int
    /// How often a member exchanges its whole table with one random member (anti-entropy).
    public var pushPullInterval: UInt64
    /// How often a member swaps presence digests with one random member (anti-entropy of
    /// operator presence, `PresenceGossip`).
    public var presenceSyncInterval: UInt64
    /// The local health multiplier's ceiling (Lifeguard): probe interval and timeouts are
    /// scaled by 1 + score, score in 0..<awarenessMax.
    public var awarenessMax: Int
    /// An intermediary that has heard nothing from the target this far into the probe
    /// timeout answers the origin with a nack (Lifeguard: "about 80 %").
    public var nackFraction: Double
    /// Most bytes of piggybacked updates in one datagram (a datagram stays under ~1,400 bytes).
    public var gossipBudgetBytes: Int
    /// Lifeguard's extensions (local health, dynamic suspicion, nacks) on or off (for the
    /// comparison the simulation reports).
    public var lifeguard: Bool

    /// memberlist's LAN defaults.
    public static let lan = SWIMSettings(
        probeInterval: 1_000_000_000,        // ProbeInterval: 1 s
        probeTimeout: 500_000_000,           // ProbeTimeout: 500 ms, "the 99th percentile of RTT" on a LAN
        indirectChecks: 3,                   // IndirectChecks: 3
        suspicionMultiplier: 4,              // SuspicionMult: 4
        suspicionMaxMultiplier: 6,           // SuspicionMaxTimeoutMult: 6
        retransmitMultiplier: 4,             // RetransmitMult: 4
        gossipInterval: 200_000_000,         // GossipInterval: 200 ms
        gossipFanout: 3,                     // GossipNodes: 3
        pushPullInterval: 30_000_000_000,    // PushPullInterval: 30 s
        presenceSyncInterval: 10_000_000_000, // a lost "went offline" heals in seconds, not half a minute; a digest is ~30 bytes a router
        awarenessMax: 8,                     // AwarenessMaxMultiplier: 8
        nackFraction: 0.8,                   // Lifeguard paper, section 4.3
        gossipBudgetBytes: 1_000,            // UDPBufferSize 1400 less headers, tag and the probe itself
        lifeguard: true)

    /// A lab or loopback: probes five times as often, the same shape otherwise.
    public static let fast = SWIMSettings(
        probeInterval: 200_000_000,          // a crash seen in about a second on loopback
        probeTimeout: 100_000_000,           // loopback round trips are well under a millisecond
        indirectChecks: 3,
        suspicionMultiplier: 4,
        suspicionMaxMultiplier: 6,
        retransmitMultiplier: 4,
        gossipInterval: 50_000_000,
        gossipFanout: 3,
        pushPullInterval: 5_000_000_000,     // a restarted member is back in every table within seconds
        presenceSyncInterval: 1_000_000_000,
        awarenessMax: 8,
        nackFraction: 0.8,
        gossipBudgetBytes: 1_000,
        lifeguard: true)

    /// The shortest suspicion for a cluster of `members`: memberlist's suspicionTimeout,
    /// `multiplier × max(1, log10(N)) × interval`.
    public func suspicionMinimum(members: Int) -> UInt64 {
        let factor = max(1.0, log10(Double(max(1, members))))
        return UInt64(Double(suspicionMultiplier) * factor * Double(probeInterval))
    }

    /// The longest suspicion (with no confirmation yet).
    public func suspicionMaximum(members: Int) -> UInt64 {
        lifeguard ? UInt64(suspicionMaxMultiplier) * suspicionMinimum(members: members) : suspicionMinimum(members: members)
    }

    /// Independent confirmations that bring a suspicion down to its minimum (memberlist: k = SuspicionMult - 2).
    public var confirmationsToMinimum: Int { max(0, suspicionMultiplier - 2) }

    /// How long a suspicion lasts after `confirmations` independent suspicions (Lifeguard's
    /// dynamic timeout, memberlist suspicion.go: the maximum, falling with log(n + 1) /
    /// log(k + 1) to the minimum once k have arrived).
    public func suspicionTimeout(members: Int, confirmations: Int) -> UInt64 {
        let (minimum, maximum) = (suspicionMinimum(members: members), suspicionMaximum(members: members))
        let k = confirmationsToMinimum
        guard lifeguard, k > 0, maximum > minimum else { return minimum }
        let fraction = log(Double(confirmations) + 1) / log(Double(k) + 1)
        let timeout = Double(maximum) - fraction * Double(maximum - minimum)
        return UInt64(max(Double(minimum), timeout.rounded(.down)))
    }

    /// How long after a crash every live member should have declared the member dead (the
    /// bound the simulation's p99 is held to): about 5 periods before someone probes it (in
    /// a period each member probes one other, so the chance nobody probed it is about 1/e
    /// per period), the rest of that period, the longest suspicion, and ⌈log2 N⌉ periods
    /// for the news to spread.
    public func detectionBound(members: Int) -> UInt64 {
        UInt64(6 + Int(ceil(log2(Double(max(2, members)))))) * probeInterval + suspicionMaximum(members: members)
    }

    /// How many times an update is sent (memberlist retransmitLimit: mult × ⌈log10(N + 1)⌉).
    public func retransmitLimit(members: Int) -> Int {
        retransmitMultiplier * Int(ceil(log10(Double(members + 1))))
    }
}
