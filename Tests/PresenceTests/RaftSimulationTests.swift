import Foundation
import Presence
import Testing

/// Thousands of seeded runs of `RaftSimulator`: every Raft property checked after every
/// event, and convergence within the plan's bound once faults stop. Batches run in
/// parallel; `RAFT_SIM_RUNS` sets the runs per batch (100 by default) for a longer soak.
/// A failure names its seed: `RaftSimulator(Plan(..., seed: n)).run()` replays it.
@Suite struct RaftSimulationTests {
    static let runsPerBatch = ProcessInfo.processInfo.environment["RAFT_SIM_RUNS"].flatMap(UInt64.init) ?? 100

    static func plan(voters: Int, observers: Int, membership: Bool, heavy: Bool, seed: UInt64) -> RaftSimulator.Plan {
        var plan = RaftSimulator.Plan(voters: voters, observers: observers, seed: seed)
        plan.membershipChanges = membership
        // Heavy: a fault every 100 ms and a fifth of messages lost. Little commits, so
        // servers compact after 4 entries, to keep snapshots in play.
        if heavy { (plan.faultsPerSecond, plan.loss, plan.compactAfter) = (10, 0.2, 4) }
        return plan
    }

    /// (voters, observers, membership changes, heavy faults, batches)
    static let shapes: [(Int, Int, Bool, Bool, Int)] = [(3, 1, false, false, 8), (3, 2, true, false, 4), (3, 0, false, true, 4),
                                                         (5, 2, false, false, 8), (5, 1, true, false, 4)]
    static let batches = shapes.flatMap { shape in (0..<shape.4).map { Batch(shape: shape, number: $0) } }

    struct Batch: Sendable, CustomTestStringConvertible {
        var voters, observers: Int
        var membership, heavy: Bool
        var number: Int
        init(shape: (Int, Int, Bool, Bool, Int), number: Int) {
            (voters, observers, membership, heavy, self.number) = (shape.0, shape.1, shape.2, shape.3, number)
        }
        var testDescription: String {
            "\(voters) voters \(observers) observers\(membership ? " membership" : "")\(heavy ? " heavy" : "") #\(number)"
        }
    }

    @Test(arguments: batches)
    func everyRun_keepsEveryProperty_andConvergesInTime(batch: Batch) {
        let first = UInt64(batch.number) * Self.runsPerBatch + 1
        var slowest: UInt64 = 0
        var (committed, snapshots, changes, torn) = (UInt64(0), 0, 0, 0)
        for seed in first..<first + Self.runsPerBatch {
            var simulator = RaftSimulator(Self.plan(voters: batch.voters, observers: batch.observers, membership: batch.membership,
                                                    heavy: batch.heavy, seed: seed))
            let report = simulator.run()
            #expect(report.violation == nil, "\(report.violation!)")
            slowest = max(slowest, report.convergedAfter ?? 0)
            (committed, snapshots, changes, torn) = (committed + report.committed, snapshots + report.snapshotsInstalled,
                                                     changes + report.membershipChanges, torn + report.tornCrashes)
        }
        // The runs must have done something worth checking.
        #expect(committed > (batch.heavy ? 2 : 20) * Self.runsPerBatch && snapshots > 0 && torn > 0)
        if batch.membership { #expect(changes > 0) }
        print("raft simulation \(batch.testDescription): \(Self.runsPerBatch) runs, \(committed) entries committed, "
              + "\(snapshots) snapshots installed, \(changes) membership changes, slowest convergence \(Double(slowest) / 1e9) s")
    }

    @Test func theSamePlanAndSeed_giveTheSameRun() {
        var first = RaftSimulator(Self.plan(voters: 5, observers: 1, membership: true, heavy: false, seed: 42))
        var second = RaftSimulator(Self.plan(voters: 5, observers: 1, membership: true, heavy: false, seed: 42))
        #expect(first.run() == second.run())
    }

    /// The checker is not vacuous: a shell that sends before its writes are durable (in a
    /// crash, what it acknowledged is gone) is caught losing a committed entry, and the
    /// failing seed replays to the same violation.
    @Test func aShellThatSendsBeforeFsync_isCaught_andTheSeedReplays() throws {
        var found: RaftViolation?
        for seed in UInt64(1)...600 where found == nil {
            var plan = Self.plan(voters: 3, observers: 0, membership: false, heavy: true, seed: seed)
            plan.unsafeSendBeforeFsync = true
            var simulator = RaftSimulator(plan)
            found = simulator.run().violation.flatMap { $0.rule == "liveness" ? nil : $0 }
        }
        let violation = try #require(found, "600 seeds of lost acknowledged writes went unnoticed")
        var plan = Self.plan(voters: 3, observers: 0, membership: false, heavy: true, seed: violation.seed)
        plan.unsafeSendBeforeFsync = true
        var replay = RaftSimulator(plan)
        #expect(replay.run().violation == violation)
        plan.unsafeSendBeforeFsync = false
        var honest = RaftSimulator(plan)
        #expect(honest.run().violation == nil, "the same seed with an honest shell keeps every property")
    }
}
