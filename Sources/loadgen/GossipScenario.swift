import Foundation
import Presence

/// `loadgen gossip`: the membership protocol simulated for many members in one process.
enum GossipScenario {
    static let usage = """
    loadgen gossip: SWIM with Lifeguard, simulated (seeded, in one process, simulated time).

    A formed cluster of --nodes members runs for --minutes of simulated time over a network
    that loses, delays, reorders and duplicates datagrams; some members crash, some
    are slow (they handle what they receive late). Reports how soon crashed members are declared dead by
    every live one, live members declared dead or suspected, how fast news spreads (in
    protocol periods, beside log2 N) and the gossip bytes each member sends per second.
    With --compare, runs the plan twice, Lifeguard on and off, and reports both.

    Options:
      --nodes N          members (default 1000)
      --minutes M        simulated minutes (default 60)
      --preset P         lan | fast (default lan)
      --loss F           datagram loss probability (default 0.05)
      --delay-ms D       one-way delay (default 0.5) and --jitter-ms J on top (default 1)
      --duplication F    datagram duplication probability (default 0.01)
      --slow F           share of slow members, handling each datagram late (default 0)
      --lag-ms L         at most this late (default 1000)
      --drift F          clock rate spread, ± (default 0.0001)
      --crashes C        members crashed during the run (default 10)
      --blackout F,S,D   one way only: datagrams from the first fraction F of members to the
                         others are lost for D seconds from second S (e.g. 0.2,600,120)
      --compare          also run with Lifeguard off
      --seed N           (default 7)
      --report FILE      write the JSON report to FILE
    """

    struct Report: Codable {
        var scenario = "gossip"
        var environment = Environment()
        var preset: String
        var loss: Double
        var slowFraction: Double
        var crashes: Int
        var blackout: String?
        var seed: UInt64
        var wallSeconds: Double
        var lifeguardOn: SimulationReport
        var lifeguardOff: SimulationReport?
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["nodes", "minutes", "preset", "loss", "delay-ms", "jitter-ms", "duplication", "slow",
                                                   "lag-ms", "drift", "crashes", "blackout", "seed", "report"], switches: ["compare"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let presetName = arguments.string("preset") ?? "lan"
        guard let preset = ["lan": SWIMSettings.lan, "fast": SWIMSettings.fast][presetName] else {
            throw Arguments.Failure(description: "--preset must be lan or fast")
        }
        var plan = SWIMSimulator.Plan(members: try arguments.int("nodes", default: 1000, range: 2...100_000),
                                      seconds: UInt64(try arguments.double("minutes", default: 60) * 60), settings: preset)
        plan.loss = try arguments.double("loss", default: 0.05)
        plan.delay = UInt64(try arguments.double("delay-ms", default: 0.5) * 1e6)
        plan.jitter = UInt64(try arguments.double("jitter-ms", default: 1) * 1e6)
        plan.duplication = try arguments.double("duplication", default: 0.01)
        plan.slowFraction = try arguments.double("slow", default: 0)
        plan.lag = UInt64(try arguments.double("lag-ms", default: 1000) * 1e6)
        plan.drift = try arguments.double("drift", default: 0.0001)
        plan.crashes = try arguments.int("crashes", default: 10, range: 0...plan.members - 1)
        plan.seed = UInt64(try arguments.int("seed", default: 7))
        if let text = arguments.string("blackout") {
            let parts = text.split(separator: ",").compactMap { Double($0) }
            guard parts.count == 3, (0...1).contains(parts[0]), parts[1] >= 0, parts[2] > 0 else {
                throw Arguments.Failure(description: "--blackout takes FRACTION,START,SECONDS, e.g. 0.2,600,120")
            }
            let cut = Int(parts[0] * Double(plan.members))
            plan.blackouts = [(from: 0..<cut, to: cut..<plan.members, start: UInt64(parts[1]), end: UInt64(parts[1] + parts[2]))]
        }
        let started = Date()
        let on = runOnce(plan, label: "Lifeguard on")
        var off: SimulationReport?
        if arguments.flag("compare") {
            var without = plan
            without.settings.lifeguard = false
            off = runOnce(without, label: "Lifeguard off")
        }
        let report = Report(preset: presetName, loss: plan.loss, slowFraction: plan.slowFraction, crashes: plan.crashes, blackout: arguments.string("blackout"), seed: plan.seed,
                            wallSeconds: (Date().timeIntervalSince(started) * 10).rounded() / 10, lifeguardOn: on, lifeguardOff: off)
        try writeReport(report, to: arguments.string("report"))
        return 0
    }

    private static func runOnce(_ plan: SWIMSimulator.Plan, label: String) -> SimulationReport {
        var simulator = SWIMSimulator(plan)
        let report = simulator.run()
        print(String(format: "%@: %d members, %d s: detection p50 %.1f s p99 %.1f s max %.1f s (bound %.0f s), %d undetected; false dead %d (%d views); false suspicions %d (%d of healthy members; %d raised by slow members, %d of them); news to 99%% in p50 %.1f p99 %.1f periods (log2 N = %.1f); %.0f bytes/member/s",
                     label, report.members, Int(report.seconds), report.detectionSeconds.p50, report.detectionSeconds.p99, report.detectionSeconds.max,
                     report.detectionBoundSeconds, report.undetected, report.falseDeadMembers, report.falseDeadViews, report.falseSuspicions,
                     report.falseSuspicionsOfHealthyMembers, report.falseSuspicionsBySlowMembers, report.falseSuspicionsOfSlowMembers, report.disseminationPeriods.p50, report.disseminationPeriods.p99, report.log2Members,
                     report.bytesPerMemberPerSecond))
        return report
    }
}
