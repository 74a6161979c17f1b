import Foundation
import Router
import Wire

/// `loadgen routing`: how fast one router core makes assignment decisions with a deep queue.
enum RouterScenario {
    static let usage = """
    loadgen routing: assignment decisions per second of the router core on one core.

    Sets up one site with --operators operators (three departments, mixed skill levels,
    capacity 3, all online and full) and --waiting conversations in the queues. Then, in a
    loop: an operator ends a chat, which frees a slot and makes their home pull the best
    waiting conversation they can take across all partitions (one decision); they accept
    it; a new visitor arrives so the queue stays as deep. Each decision is timed; the log
    records are collected in memory (no disk: see `loadgen log` for that).

    Options:
      --operators N    operators (default 1000)
      --waiting N      conversations kept waiting (default 10000)
      --partitions N   partitions (default 1024)
      --seconds S      measuring time (default 3)
      --report FILE    write the JSON report to FILE
    """

    struct Report: Codable {
        var scenario = "routing"
        var environment = Environment()
        var operators: Int
        var waiting: Int
        var partitions: Int
        var seconds: Double
        var assignments: Int
        var assignmentsPerSecond: Double
        var decisionMicroseconds: LatencySummary
        var cycleMicroseconds: LatencySummary
        var waitingAtEnd: Int
        var cpuSeconds: Double
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["operators", "waiting", "partitions", "seconds", "report"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let operatorCount = try arguments.int("operators", default: 1000, range: 1...100_000)
        let waiting = try arguments.int("waiting", default: 10_000, range: 0...1_000_000)
        let partitionCount = try arguments.int("partitions", default: 1024, range: 1...65_536)
        let seconds = try arguments.double("seconds", default: 3)

        let departments: [Skill] = ["sales", "billing", "support"]
        var rng = SplitMix64(seed: 42)
        let operators = (0..<operatorCount).map { n in
            var skills: [Skill: Int] = [departments[n % 3]: Int.random(in: 1...5, using: &rng)]
            if n % 2 == 0 { skills[departments[(n + 1) % 3]] = Int.random(in: 1...5, using: &rng) }
            return OperatorProfile(id: OperatorID("op\(n)"), site: "shop", displayName: "Operator \(n)", skills: skills, maxChats: 3)
        }
        var core = RouterCore(partitionCount: partitionCount,
                              sites: [SiteConfiguration(id: "shop", departments: Set(departments), operators: operators)], seed: 7)
        var effects: [RouterEffect] = []
        let start = MonotonicClock.now()
        var now: Instant { MonotonicClock.now() - start + 1 }
        for profile in operators {
            try core.operatorConnected(profile.id, now: now, into: &effects)
            try core.setStatus(profile.id, .online, now: now, into: &effects)
        }
        // Fill every operator, then build the waiting queue.
        var visitor = 0
        func arrive() throws -> ConversationID {
            visitor += 1
            return try core.startConversation(site: "shop", visitor: VisitorID("v\(visitor)"),
                                              department: departments[visitor % 3], priority: visitor % 7 == 0 ? 1 : 0,
                                              now: now, into: &effects)
        }
        var active: [ConversationID] = []
        while active.count < operatorCount * 3 {
            let id = try arrive()
            if let op = core.conversation(id)?.assignedOperator {
                try core.accept(id, by: op, now: now, into: &effects)
                active.append(id)
            } else if core.conversation(id)?.state == .queued {
                break  // the remaining slots are in skills nobody asks for as often
            }
            effects.removeAll(keepingCapacity: true)
        }
        for _ in 0..<waiting { _ = try arrive() }
        effects.removeAll(keepingCapacity: true)
        print("set up: \(operatorCount) operators, \(active.count) active chats, \(waiting) waiting, \(partitionCount) partitions")

        var decisions = Histogram()
        var cycles = Histogram()
        var assignments = 0
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let measureStart = MonotonicClock.now()
        let deadline = measureStart + UInt64(seconds * 1e9)
        var index = 0
        var nextProgress = measureStart + 1_000_000_000
        while MonotonicClock.now() < deadline {
            let cycleStart = MonotonicClock.now()
            if cycleStart >= nextProgress {
                // The core runs on this thread: the progress line is printed between cycles.
                print(String(format: "  %5.1f s: %d assignments", Double(cycleStart - measureStart) / 1e9, assignments))
                nextProgress += 1_000_000_000
            }
            index = (index + 1) % active.count
            let ending = active[index]
            guard let op = core.conversation(ending)?.assignedOperator else { continue }
            let decisionStart = MonotonicClock.now()
            try core.end(ending, by: op, now: now, into: &effects)  // frees a slot: the home pulls
            decisions.record(MonotonicClock.now() - decisionStart)
            let offered = effects.lazy.compactMap { effect -> ConversationID? in
                if case .toOperator(op, .offer(let id, _, _, _)) = effect { return id }
                return nil
            }.first
            if let offered {
                try core.accept(offered, by: op, now: now, into: &effects)
                active[index] = offered
                assignments += 1
            }
            _ = try arrive()
            effects.removeAll(keepingCapacity: true)
            cycles.record(MonotonicClock.now() - cycleStart)
        }
        let elapsed = Double(MonotonicClock.now() - measureStart) / 1e9
        let waitingAtEnd = core.partitions.reduce(0) { $0 + $1.queue.count }
        let report = Report(operators: operatorCount, waiting: waiting, partitions: partitionCount,
                            seconds: (elapsed * 100).rounded() / 100, assignments: assignments,
                            assignmentsPerSecond: (Double(assignments) / elapsed).rounded(),
                            decisionMicroseconds: LatencySummary(decisions), cycleMicroseconds: LatencySummary(cycles),
                            waitingAtEnd: waitingAtEnd, cpuSeconds: ((ProcessStats.ownCPUSeconds() - cpuBefore) * 100).rounded() / 100)
        print(String(format: "%d assignments in %.2f s: %.0f/s; decision us p50 %.1f p99 %.1f p99.9 %.1f; full cycle p50 %.1f p99 %.1f; %d waiting at end",
                     assignments, elapsed, report.assignmentsPerSecond, report.decisionMicroseconds.p50, report.decisionMicroseconds.p99,
                     report.decisionMicroseconds.p999, report.cycleMicroseconds.p50, report.cycleMicroseconds.p99, waitingAtEnd))
        try writeReport(report, to: arguments.string("report"))
        return 0
    }
}
