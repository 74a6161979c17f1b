import Foundation
import Glibc
import Wire

/// `loadgen chat`: visitors and operators chatting over WebSocket through a gateway, every
/// message checked for exactly-once, in-order delivery.
enum ChatScenario {
    static let usage = """
    loadgen chat: visitors and operators chat through gateways; verified and measured.

    Each of --conversations visitors opens a WebSocket and starts a chat (in the departments
    in turn); an
    operator accepts it (after --accept-delay-ms). Then both sides write: in a closed loop
    each side keeps --in-flight messages outstanding, the next one sent when one is
    acknowledged (durably, by the router); with --rate the load is an open loop instead:
    messages leave on a fixed schedule, round-robin over the chats' sides, whatever the
    answers do, and latency counts from the scheduled time (a stall is not hidden by the
    sender waiting for it). With --messages-per-chat N a visitor leaves after N messages and
    starts a new chat. Every message carries its counter and send time; the receiving side
    checks that each conversation's messages arrive exactly once and in order, with
    increasing sequence numbers, and records send-to-delivery latency.

    Options:
      --target HOST:PORT[,…]  gateways to use, round-robin (default: start `routerd dev` from
                              the same build, with enough load operators, and stop it at the end)
      --conversations N       concurrent conversations (default 100)
      --in-flight W           messages outstanding per side of a conversation (default 1)
      --rate R                open loop: R messages/s in all, paced every millisecond
      --messages-per-chat N   visitor messages before the chat ends and a new one starts (default 0: never)
      --accept-delay-ms D     operators accept offers after D ms (default 0)
      --departments LIST      departments the visitors ask for, in turn (default sales,billing,support;
                              the load operators must have these skills)
      --seconds S             measuring time (default 5); --duration is the same
      --warmup S              time after all chats are accepted, before measuring (default 1)
      --fsync POLICY          for the started routerd: always | interval | none (default always)
      --token-secret S        with --target: sign the operators' tokens with the site's secret
                              instead of the dev login, for operators load-0 … load-(N/10 - 1)
                              of --site (default shop), who must be in the router's config
      --pid PID[,…]           server processes whose CPU and memory are reported, summed
                              (default: the routerd started here)
      --slo LIST              objectives on the delivery latency, e.g. p99<3ms,p99.9<10ms
      --report FILE           write the JSON report to FILE

    Exit status 1 if a message is lost, duplicated or reordered, a command is refused, or an
    --slo is missed.
    """

    struct Report: Codable {
        var scenario = "chat"
        var environment = Environment()
        var gateways: Int
        var conversations: Int
        var inFlightPerSide: Int?
        var targetRate: Double?
        var messagesPerChat: Int
        var acceptDelayMilliseconds: Int
        var fsync: String?
        var seconds: Double
        /// Messages delivered inside the measuring window (the rate is this over `seconds`).
        var messagesDelivered: Int
        var messagesPerSecond: Double
        /// Messages delivered after the window, while what was in flight drained (checked
        /// for loss and order, in no rate).
        var messagesDrained: Int
        var chatsStarted: Int
        var chatsEnded: Int
        var refusedAtChatEnd: Int
        var deliveryLatencyMicroseconds: LatencySummary
        var ackLatencyMicroseconds: LatencySummary
        var startToOfferMicroseconds: LatencySummary
        var startToFirstReplyMicroseconds: LatencySummary
        var lost: Int
        var duplicated: Int
        var reordered: Int
        var errors: [String: Int]
        var loadgenCPUSeconds: Double
        var serverCPUSeconds: Double?
        /// The started routerd's resident memory at the start and end of the window and its
        /// highest sample (once a second), in MiB.
        var serverMemoryMiB: MemorySummary?
        /// Each second of the window: deliveries, their p99 and max latency, server memory.
        var timeline: [TimelinePoint]
        var slo: [SLOResult]
    }

    struct MemorySummary: Codable {
        var start: Double
        var end: Double
        var max: Double
    }

    struct TimelinePoint: Codable {
        var second: Int
        var delivered: Int
        var p99Microseconds: Double
        var maxMicroseconds: Double
        var serverMemoryMiB: Double?
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["target", "conversations", "in-flight", "rate", "messages-per-chat", "accept-delay-ms",
                                                   "seconds", "warmup", "fsync", "slo", "token-secret", "site", "departments", "pid", "report"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let conversations = try arguments.int("conversations", default: 100, range: 1...15_000)
        let inFlight = try arguments.int("in-flight", default: 1, range: 1...1000)
        let messagesPerChat = try arguments.int("messages-per-chat", default: 0, range: 0...1_000_000)
        let acceptDelay = try arguments.int("accept-delay-ms", default: 0, range: 0...60_000)
        let seconds = try arguments.double("seconds", default: 5)
        let warmup = try arguments.double("warmup", default: 1)
        let fsync = arguments.string("fsync") ?? "always"
        let rate = arguments.string("rate") == nil ? nil : try arguments.double("rate", default: 1)
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        let departments = (arguments.string("departments") ?? "sales,billing,support").split(separator: ",").map(String.init)
        guard !departments.isEmpty else { throw Arguments.Failure(description: "--departments must name at least one") }
        ProcessResources.raiseOpenFileLimit()
        let operatorCount = (conversations + 9) / 10

        let (targets, child) = try ServerProcess.targets(arguments) { try startRouterd(loadOperators: operatorCount, fsync: fsync) }
        defer { child?.terminate() }
        // The server processes whose CPU and memory are reported: the started routerd, or
        // those given with --pid (every server process of a cluster, summed).
        let serverPIDs = try ServerProcess.pids(arguments, started: child)
        func serverCPUSeconds() -> Double? {
            serverPIDs.isEmpty ? nil : serverPIDs.compactMap { ProcessStats.cpuSeconds(pid: $0) }.reduce(0, +)
        }
        // Every gateway of a cluster knows the site's secret: one login serves them all.
        let tokens = try arguments.string("token-secret").map { secret in
            (0..<operatorCount).map { OperatorToken.mint(site: arguments.string("site") ?? "shop", operator: "load-\($0)", secret: Array(secret.utf8)) }
        } ?? loadOperatorTokens(count: operatorCount, at: targets[0])

        let group = EventLoopGroup(loopCount: 1, name: "loadgen")
        let loop = group.loops[0]
        let world = try loop.submitAndWait {
            UncheckedBox(ChatWorld(loop: loop, inFlight: rate == nil ? inFlight : 0, messagesPerChat: messagesPerChat,
                                   acceptDelay: UInt64(acceptDelay) * 1_000_000, departments: departments))
        }
        let progress = world.value.progress
        try loop.submitAndWait {
            for (n, token) in tokens.enumerated() { world.value.addOperator(token: token, address: targets[n % targets.count], seed: UInt64(n)) }
        }
        guard progress.wait(seconds: 30, until: { $0.operatorsOnline == operatorCount }) else {
            throw Arguments.Failure(description: "only \(progress.read { $0.operatorsOnline }) of \(operatorCount) operators came online")
        }
        try loop.submitAndWait {
            for n in 0..<conversations { world.value.addVisitor(address: targets[n % targets.count], seed: UInt64(10_000 + n)) }
        }
        guard progress.wait(seconds: 60, until: { $0.chatsActive >= conversations }) else {
            throw Arguments.Failure(description: "only \(progress.read { $0.chatsActive }) of \(conversations) chats became active")
        }
        print("\(conversations) chats active with \(operatorCount) operators on \(targets.count) gateway(s); warming up \(warmup) s")
        if let rate { try loop.submitAndWait { world.value.startPacing(messagesPerSecond: rate) } }
        Thread.sleep(forTimeInterval: warmup)
        try loop.submitAndWait { world.value.resetMeasurements() }
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let serverBefore = serverCPUSeconds()
        let start = MonotonicClock.now()
        func serverMiB() -> Double? {
            guard !serverPIDs.isEmpty else { return nil }
            let bytes = serverPIDs.compactMap { ProcessResources.residentBytes(pid: $0) }.reduce(0, +)
            return (Double(bytes) / 1_048_576 * 10).rounded() / 10
        }
        let memoryAtStart = serverMiB()
        var timeline: [TimelinePoint] = []
        _ = try loop.submitAndWait { world.value.takeWindow() }
        try ProgressLine.sleep(seconds) {
            let (delivered, p99, chats, window) = try loop.submitAndWait {
                (world.value.delivered, world.value.deliveryP99, world.value.chatsStarted, world.value.takeWindow())
            }
            let memory = serverMiB()
            timeline.append(TimelinePoint(second: timeline.count + 1, delivered: window.delivered,
                                          p99Microseconds: Double(window.latency.value(atPercentile: 99) / 1000),
                                          maxMicroseconds: Double(window.latency.value(atPercentile: 100) / 1000), serverMemoryMiB: memory))
            return String(format: "%d messages delivered, p99 so far %.0f us, %d chats started", delivered, Double(p99) / 1000, chats)
                + (memory.map { String(format: ", server %.1f MiB", $0) } ?? "")
        }
        // The window ends here for every figure: deliveries from now on are the drain's.
        try loop.submitAndWait { world.value.closeWindow() }
        let memoryAtEnd = serverMiB()
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        let cpu = ProcessStats.ownCPUSeconds() - cpuBefore
        let serverCPU = serverCPUSeconds().map { $0 - (serverBefore ?? 0) }
        // Stop sending, let what is in flight arrive, then compare acknowledged with delivered.
        // The acknowledgement leaves the router before the event does, so wait for both: a
        // message is lost only if it is still missing after the drain.
        try loop.submitAndWait { world.value.stopSending() }
        _ = progress.wait(seconds: 10) { $0.outstanding == 0 }
        let drainStart = MonotonicClock.now()
        while try loop.submitAndWait({ world.value.undelivered }) > 0, MonotonicClock.now() - drainStart < 10_000_000_000 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let (result, started, ended, refused) = try loop.submitAndWait {
            (world.value.result(), world.value.chatsStarted, world.value.chatsEnded, world.value.refusedAtChatEnd)
        }
        try loop.submitAndWait { world.value.closeAll() }

        let slo = SLOResult.check(objectives, against: result.delivery, what: "delivery latency")
        let report = Report(gateways: targets.count, conversations: conversations, inFlightPerSide: rate == nil ? inFlight : nil, targetRate: rate,
                            messagesPerChat: messagesPerChat, acceptDelayMilliseconds: acceptDelay, fsync: child == nil ? nil : fsync,
                            seconds: (elapsed * 100).rounded() / 100, messagesDelivered: result.delivered,
                            messagesPerSecond: (Double(result.delivered) / elapsed).rounded(), messagesDrained: result.drained, chatsStarted: started, chatsEnded: ended, refusedAtChatEnd: refused,
                            deliveryLatencyMicroseconds: LatencySummary(result.delivery), ackLatencyMicroseconds: LatencySummary(result.ack),
                            startToOfferMicroseconds: LatencySummary(result.startToOffer),
                            startToFirstReplyMicroseconds: LatencySummary(result.startToFirstReply),
                            lost: result.lost, duplicated: result.duplicated, reordered: result.reordered, errors: result.errors,
                            loadgenCPUSeconds: (cpu * 100).rounded() / 100, serverCPUSeconds: serverCPU.map { ($0 * 100).rounded() / 100 },
                            serverMemoryMiB: memoryAtStart.flatMap { first in memoryAtEnd.map { last in
                                MemorySummary(start: first, end: last, max: timeline.compactMap(\.serverMemoryMiB).max() ?? last)
                            } },
                            timeline: timeline, slo: slo)
        let l = report.deliveryLatencyMicroseconds
        let load = rate.map { String(format: "paced at %.0f/s", $0) } ?? "x \(inFlight) in flight per side"
        print(String(format: "%d conversations %@: %.0f messages/s delivered; latency us p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f",
                     conversations, load, report.messagesPerSecond, l.p50, l.p90, l.p99, l.p999, l.max))
        if started > 0 {
            print(String(format: "%d chats started, %d ended while measuring (%d operator messages refused as their chat ended); start to offer us p50 %.0f p99 %.0f; start to first operator message p50 %.0f p99 %.0f",
                         started, ended, refused, report.startToOfferMicroseconds.p50, report.startToOfferMicroseconds.p99,
                         report.startToFirstReplyMicroseconds.p50, report.startToFirstReplyMicroseconds.p99))
        }
        print("\(result.drained) more delivered in the drain after the window (not in the rate)")
        print("lost \(result.lost), duplicated \(result.duplicated), reordered \(result.reordered), errors \(result.errors); cpu loadgen \(report.loadgenCPUSeconds) s, server \(report.serverCPUSeconds.map { "\($0) s" } ?? "n/a")")
        try writeReport(report, to: arguments.string("report"))
        return result.lost == 0 && result.duplicated == 0 && result.reordered == 0 && result.errors.isEmpty && slo.allSatisfy(\.met) ? 0 : 1
    }

    /// Starts `routerd dev` (next to this binary) on free ports and returns its gateway address.
    static func startRouterd(loadOperators: Int, fsync: String, capacity: Int = 10) throws -> (Process, SocketAddress) {
        try ServerProcess.start(ServerProcess.sibling("routerd"),
                                ["dev", "--http", "127.0.0.1:0", "--wire", "127.0.0.1:0", "--fsync", fsync, "--load-operators",
                                 String(loadOperators), "--load-capacity", String(capacity), "--message-rate", "1000000",
                                 "--connections-per-address", "0", "--max-connections", "1000000"],
                                addressAfter: "msg=\"gateway listening\" http=http://")
    }

    /// Logs the load operators of `routerd dev` in (its demo password login) and returns their tokens.
    static func loadOperatorTokens(count: Int, at target: SocketAddress) throws -> [String] {
        try (0..<count).map { n in
            let body = try HTTPClient.post(target, path: "/api/login", json: ["site": "shop", "operator": "load-\(n)", "password": "load-demo"])
            guard let token = body["token"] as? String else { throw Arguments.Failure(description: "login of load-\(n) failed: \(body)") }
            return token
        }
    }
}

/// An operator's access token as a shop's backend would sign it (JWT, HS256 over the site's
/// secret; docs/client-protocol.md), for load tests against clusters without the dev login.
enum OperatorToken {
    static func mint(site: String, operator op: String, secret: [UInt8], lifetimeSeconds: Int64 = 3600) -> String {
        let now = Int64(Date().timeIntervalSince1970)
        let claims: [String: Any] = ["sub": op, "site": site, "role": "operator", "iat": now, "exp": now + lifetimeSeconds]
        return HS256Token.sign(payload: JSONText.serialize(claims), secret: secret)
    }
}
