import Foundation

/// What a simulation run measured.
public struct SimulationReport: Codable, Sendable, Equatable {
    public struct Distribution: Codable, Sendable, Equatable {
        public var count: Int
        public var p50: Double
        public var p99: Double
        public var max: Double

        init(_ values: [Double]) {
            let sorted = values.sorted()
            // The nearest-rank percentile.
            func at(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let rank = Int((q * Double(sorted.count)).rounded(.up))
                return sorted[Swift.min(sorted.count, Swift.max(1, rank)) - 1]
            }
            (count, p50, p99, self.max) = (sorted.count, at(0.5), at(0.99), sorted.last ?? 0)
        }
    }

    public var members: Int
    public var seconds: UInt64
    public var lifeguard: Bool
    public var probeIntervalMilliseconds: UInt64
    /// Seconds from a crash until each live member declared it dead.
    public var detectionSeconds: Distribution
    /// (crashed member, live member) pairs where the live one had not declared it dead by the end.
    public var undetected: Int
    /// The bound `SWIMSettings.detectionBound` states for this size, in seconds.
    public var detectionBoundSeconds: Double
    /// Live members that someone declared dead, and how many members' views that reached.
    public var falseDeadMembers: Int
    public var falseDeadViews: Int
    /// Suspicions of live members that a member raised itself (its probe went unanswered);
    /// those raised by slow members apart.
    public var falseSuspicions: Int
    public var falseSuspicionsBySlowMembers: Int
    /// ... and those of slow members, which really answered late; the rest are suspicions
    /// of healthy members, the false positives Lifeguard is for.
    public var falseSuspicionsOfSlowMembers: Int
    public var falseSuspicionsOfHealthyMembers: Int
    /// Protocol periods from the first suspicion of a crashed member until 99 % of live
    /// members had heard of it (suspect or dead), one value per crash; beside log2(N).
    public var disseminationPeriods: Distribution
    public var log2Members: Double
    public var bytesPerMemberPerSecond: Double
}

/// Collects what the simulated members do, for the report.
struct SimulationRecorder {
    let members: Int
    let settings: SWIMSettings
    var slow: Set<Int> = []
    private var crashTimes: [Int: UInt64] = [:]
    private var detections: [Int: [Int: UInt64]] = [:]
    /// Per crashed member: the first suspicion of it, who has heard since, and when 99 % had.
    private var firstNews: [Int: UInt64] = [:]
    private var heard: [Int: Set<Int>] = [:]
    private var reached99: [Int: UInt64] = [:]
    private var falseDead: Set<Int> = []
    private var falseDeadViews = 0
    private var falseSuspicions = 0
    private var falseSuspicionsBySlow = 0
    private var falseSuspicionsOfSlow = 0
    private var bytes = 0

    init(members: Int, settings: SWIMSettings) {
        (self.members, self.settings) = (members, settings)
    }

    mutating func crashed(_ index: Int, at time: UInt64) { crashTimes[index] = time }

    mutating func sent(bytes count: Int, by _: Int) { bytes += count }

    mutating func raisedSuspicion(by observer: Int, of subject: Int, crashed: Bool) {
        guard !crashed else { return }
        falseSuspicions += 1
        if slow.contains(observer) { falseSuspicionsBySlow += 1 }
        if slow.contains(subject) { falseSuspicionsOfSlow += 1 }
    }

    mutating func changed(observer: Int, subject: Int, to status: MemberStatus, at time: UInt64, crashed: Bool) {
        if crashed, crashTimes[observer] == nil, status == .suspect || status == .dead {
            if firstNews[subject] == nil { firstNews[subject] = time }
            heard[subject, default: []].insert(observer)
            let live = members - crashTimes.count
            if reached99[subject] == nil, Double(heard[subject]!.count) >= 0.99 * Double(live) { reached99[subject] = time }
        }
        guard status == .dead else { return }
        guard crashed, crashTimes[observer] == nil else {
            if !crashed {
                falseDead.insert(subject)
                falseDeadViews += 1
            }
            return
        }
        detections[subject, default: [:]][observer] = detections[subject]?[observer] ?? time
    }

    func report(now: UInt64, crashed: Set<Int>) -> SimulationReport {
        var detection: [Double] = []
        var undetected = 0
        let live = (0..<members).filter { !crashed.contains($0) }
        for (subject, at) in crashTimes {
            for observer in live {
                if let seen = detections[subject]?[observer] { detection.append(Double(seen - at) / 1e9) } else { undetected += 1 }
            }
        }
        let periods = crashTimes.keys.compactMap { subject -> Double? in
            guard let first = firstNews[subject] else { return nil }
            let end = reached99[subject] ?? now
            return Double(end - first) / Double(settings.probeInterval)
        }
        return SimulationReport(
            members: members, seconds: now / 1_000_000_000, lifeguard: settings.lifeguard,
            probeIntervalMilliseconds: settings.probeInterval / 1_000_000,
            detectionSeconds: .init(detection), undetected: undetected,
            detectionBoundSeconds: Double(settings.detectionBound(members: members)) / 1e9,
            falseDeadMembers: falseDead.count, falseDeadViews: falseDeadViews,
            falseSuspicions: falseSuspicions, falseSuspicionsBySlowMembers: falseSuspicionsBySlow,
            falseSuspicionsOfSlowMembers: falseSuspicionsOfSlow, falseSuspicionsOfHealthyMembers: falseSuspicions - falseSuspicionsOfSlow,
            disseminationPeriods: .init(periods), log2Members: log2(Double(members)),
            bytesPerMemberPerSecond: Double(bytes) / Double(members) / max(1, Double(now) / 1e9))
    }
}
