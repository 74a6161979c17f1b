import Foundation
import Wire

/// `loadgen burst`: far more chat starts than operators can take at once; checks that the
/// queue serves first come first (within a priority) and that told positions were exact.
enum BurstScenario {
    static let usage = """
    loadgen burst: many more chat starts than operator capacity; queue fairness checked.

    --starts visitors start chats in sales, spread evenly over --over seconds, against
    --operators operators of --capacity chats each (started with `routerd dev`). Operators
    accept every offer at once and end each chat after --handle-ms. Reported: waits from
    start to offer, FIFO violations (a chat offered before one that started earlier, when
    the two starts were at least 5 ms apart), the accuracy of the queue positions visitors
    were told (a visitor told position p at time t should see exactly p - 1 chats offered
    between t and its own offer), and missed offers.

    Options:
      --starts N        chat starts (default 5000)
      --over S          seconds over which they arrive (default 10)
      --operators M     operators (default 50)
      --capacity C      chats per operator (default 3)
      --handle-ms H     how long an operator keeps a chat (default 300)
      --target HOST:PORT  a running gateway (or nginx in front of a cluster's) instead of
                        starting `routerd dev`; with --token-secret S the operators' tokens
                        are signed with the site's secret: operators load-0 … load-(M-1) of
                        site shop with maxChats C must be in the routers' configuration
      --slo LIST        objectives on the wait for an operator, e.g. p99<30s
      --report FILE     write the JSON report to FILE

    Exit status 1 on a FIFO violation, an inexact position, a refused command, or a
    missed --slo.
    """

    struct Report: Codable {
        var scenario = "burst"
        var environment = Environment()
        var starts: Int
        var overSeconds: Double
        var operators: Int
        var capacity: Int
        var handleMilliseconds: Int
        var served: Int
        var waitMilliseconds: LatencySummary
        var fifoViolations: Int
        var positionsReported: Int
        var positionsExact: Int
        var positionMeanAbsoluteError: Double
        var missedOffers: Int
        var errors: [String: Int]
        var seconds: Double
        var slo: [SLOResult]
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["starts", "over", "operators", "capacity", "handle-ms", "slo", "report", "target", "token-secret"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let starts = try arguments.int("starts", default: 5000, range: 1...15_000)
        let over = try arguments.double("over", default: 10)
        let operators = try arguments.int("operators", default: 50, range: 1...1000)
        let capacity = try arguments.int("capacity", default: 3, range: 1...100)
        let handle = try arguments.int("handle-ms", default: 300, range: 1...60_000)
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        ProcessResources.raiseOpenFileLimit()
        let (targets, child) = try ServerProcess.targets(arguments) {
            try ChatScenario.startRouterd(loadOperators: operators, fsync: "always", capacity: capacity)
        }
        defer { child?.terminate() }
        let target = targets[0]
        let tokens = try arguments.string("token-secret").map { secret in
            (0..<operators).map { OperatorToken.mint(site: "shop", operator: "load-\($0)", secret: Array(secret.utf8)) }
        } ?? ChatScenario.loadOperatorTokens(count: operators, at: target)
        let group = EventLoopGroup(loopCount: 1, name: "loadgen")
        let loop = group.loops[0]
        let world = try loop.submitAndWait { [tokens] in
            let world = BurstWorld(loop: loop, target: target, handle: UInt64(handle) * 1_000_000)
            for (n, token) in tokens.enumerated() { world.addOperator(token: token, seed: UInt64(n)) }
            return UncheckedBox(world)
        }
        guard world.value.progress.wait(seconds: 30, until: { $0.operatorsOnline == operators }) else {
            throw Arguments.Failure(description: "operators did not come online")
        }
        let start = MonotonicClock.now()
        try loop.submitAndWait { world.value.startArrivals(count: starts, over: UInt64(over * 1e9)) }
        // Everyone is served eventually: starts × handle time ÷ slots, plus the arrival window.
        let bound = over + Double(starts) * Double(handle) / 1000 / Double(operators * capacity) * 2 + 30
        let progress = world.value.progress
        let done = ProgressLine.wait(upTo: bound, until: { progress.read { $0.served } == starts }) {
            "\(progress.read { $0.served }) of \(starts) served"
        }
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        let result = try loop.submitAndWait { world.value.result() }
        try loop.submitAndWait { world.value.closeAll() }
        if !done { print("only \(result.served) of \(starts) chats were served within \(Int(bound)) s") }

        let report = Report(starts: starts, overSeconds: over, operators: operators, capacity: capacity, handleMilliseconds: handle,
                            served: result.served, waitMilliseconds: LatencySummary(result.waits),
                            fifoViolations: result.fifoViolations, positionsReported: result.positionsReported,
                            positionsExact: result.positionsExact, positionMeanAbsoluteError: result.positionError,
                            missedOffers: result.missed, errors: result.errors, seconds: (elapsed * 100).rounded() / 100,
                            slo: SLOResult.check(objectives, against: result.waits, what: "wait"))
        print("\(starts) starts over \(over) s, \(operators) operators × \(capacity): \(result.served) served in \(report.seconds) s")
        print(String(format: "wait ms p50 %.0f p99 %.0f max %.0f; FIFO violations %d; positions exact %d of %d (mean abs error %.2f); missed offers %d; errors %@",
                     report.waitMilliseconds.p50 / 1000, report.waitMilliseconds.p99 / 1000, report.waitMilliseconds.max / 1000,
                     result.fifoViolations, result.positionsExact, result.positionsReported, result.positionError, result.missed,
                     "\(result.errors)"))
        try writeReport(report, to: arguments.string("report"))
        let clean = done && result.fifoViolations == 0 && result.positionsExact == result.positionsReported && result.errors.isEmpty
            && report.slo.allSatisfy(\.met)
        return clean ? 0 : 1
    }
}

struct BurstProgress: Sendable {
    var operatorsOnline = 0
    var served = 0
}

/// The simulated crowd and team of the burst, on one loop.
final class BurstWorld {
    let loop: EventLoop
    let target: SocketAddress
    let handle: UInt64
    let progress = Shared(BurstProgress())
    private var clients: [WebSocketClient] = []
    private var bots: [AnyObject] = []
    /// Per conversation: when its start was sent (loadgen's clock, for the wait it saw).
    var startedAt: [String: UInt64] = [:]
    /// When the operator bot received the offer (loadgen's clock).
    var offeredAt: [String: UInt64] = [:]
    /// The router's own times (ms since 1970, to the µs): when it queued the chat and when
    /// it offered it. Order is checked on these: receive times on different sockets skew.
    var routerQueuedAt: [String: Double] = [:]
    var routerOfferedAt: [String: Double] = [:]
    /// Positions told, with the router's time of telling.
    var told: [(conversation: String, position: Int, at: Double)] = []
    var missed = 0
    var errors: [String: Int] = [:]

    init(loop: EventLoop, target: SocketAddress, handle: UInt64) {
        (self.loop, self.target, self.handle) = (loop, target, handle)
    }

    func connect(_ delegate: any WebSocketClientDelegate, seed: UInt64) {
        clients.append(WebSocketClient.open(to: target, seed: seed, delegate: delegate, on: loop))
        bots.append(delegate)  // the client holds its delegate weakly
    }

    func addOperator(token: String, seed: UInt64) { connect(BurstOperator(world: self, token: token), seed: seed) }

    /// Schedules `count` visitors evenly over `window` ns.
    func startArrivals(count: Int, over window: UInt64) {
        let start = loop.now
        for n in 0..<count {
            loop.scheduleTimer(at: start + window * UInt64(n) / UInt64(count)) { [self] in
                connect(BurstVisitor(world: self), seed: UInt64(100_000 + n))
            }
        }
    }

    func offered(_ conversation: String, queuedAt: Double, at time: Double) {
        guard offeredAt[conversation] == nil else { return }
        offeredAt[conversation] = MonotonicClock.now()
        routerQueuedAt[conversation] = queuedAt
        routerOfferedAt[conversation] = time
        progress.update { $0.served += 1 }
    }

    func result() -> (served: Int, waits: Histogram, fifoViolations: Int, positionsReported: Int, positionsExact: Int, positionError: Double,
                      missed: Int, errors: [String: Int]) {
        var waits = Histogram()
        for (id, offered) in offeredAt { if let started = startedAt[id] { waits.record(offered &- started) } }
        // FIFO, on the router's clock: a chat offered after another must not have joined
        // the queue before it (all of one priority and department here).
        let served = routerOfferedAt.compactMap { id, offered in routerQueuedAt[id].map { (id: id, queued: $0, offered: offered) } }
            .sorted { ($0.offered, $0.queued) < ($1.offered, $1.queued) }
        var violations = 0
        var latestQueued = -Double.infinity
        for chat in served {
            if latestQueued > chat.queued { violations += 1 }
            latestQueued = max(latestQueued, chat.queued)
        }
        // Positions: the last one told before the offer; position p is exact when p - 1
        // chats were offered after the telling and before this one (router times).
        var last: [String: (position: Int, at: Double)] = [:]
        for entry in told where entry.at < (routerOfferedAt[entry.conversation] ?? .infinity) {
            last[entry.conversation] = (entry.position, entry.at)
        }
        let offerTimes = served.map(\.offered)
        var exact = 0
        var error = 0.0
        for (id, report) in last {
            guard let mine = routerOfferedAt[id] else { continue }
            let between = offerTimes.filter { $0 > report.at && $0 < mine }.count
            if between == report.position - 1 { exact += 1 }
            error += Double(abs(between - (report.position - 1)))
        }
        return (served.count, waits, violations, last.count, exact, last.isEmpty ? 0 : error / Double(last.count), missed, errors)
    }

    func closeAll() { for client in clients { client.close() } }
}

final class BurstOperator: WebSocketClientDelegate {
    private unowned let world: BurstWorld
    private let token: String
    private var online = false
    init(world: BurstWorld, token: String) { (self.world, self.token) = (world, token) }

    func webSocketDidOpen(_ client: WebSocketClient) { client.send(.hello(token: token, site: nil)) }
    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent) {
        switch event {
        case .welcome:
            client.send(.setStatus(.online))
        case .accepted(_, nil, _) where !online:
            online = true
            world.progress.update { $0.operatorsOnline += 1 }
        case .offer(let id, _, _, _, _, let queuedAt, let time):
            world.offered(id, queuedAt: queuedAt, at: time)
            client.send(.accept(conversation: id))
            world.loop.scheduleTimer(at: world.loop.now + world.handle) { [weak client] in
                client?.send(.end(conversation: id))
            }
        case .offerWithdrawn:
            world.missed += 1
        case .error(let code, _, _):
            world.errors[code, default: 0] += 1
        default:
            break
        }
    }
    func webSocketDidClose(_ client: WebSocketClient) {}
}

final class BurstVisitor: WebSocketClientDelegate {
    private unowned let world: BurstWorld
    private var conversation: String?
    /// When the start was sent: the offer may reach its operator before the start's reply
    /// reaches the visitor, so the send time is what orders arrivals.
    private var sentAt: UInt64 = 0
    init(world: BurstWorld) { self.world = world }

    func webSocketDidOpen(_ client: WebSocketClient) { client.send(.hello(token: nil, site: "shop")) }
    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent) {
        switch event {
        case .welcome:
            sentAt = MonotonicClock.now()
            client.send(.start(requestID: "burst", department: "sales", name: nil, email: nil, question: nil))
        case .accepted(_, let id?, _) where conversation == nil:
            conversation = id
            world.startedAt[id] = sentAt
        case .queued(_, let position, _, let time):
            guard let id = conversation else { return }
            world.told.append((id, position, time))
        case .error(let code, _, _):
            world.errors[code, default: 0] += 1
        default:
            break
        }
    }
    func webSocketDidClose(_ client: WebSocketClient) {}
}
