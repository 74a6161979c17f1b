import Foundation
import Glibc
import Wire

/// `loadgen idle`: many idle visitor WebSockets held open; the gateway's memory per
/// connection and the connect rate. The connections are opened by worker processes (one
/// process may hold at most 20,000 files here) from many loopback source addresses (one
/// address has only ~28,000 ports towards one server).
enum IdleScenario {
    static let usage = """
    loadgen idle: idle visitor connections held open; gateway memory per connection.

    Each connection is a visitor's widget: a WebSocket that says hello (and gets its
    session) and then stays quiet, answering the gateway's pings. The gateway's resident
    memory is read before and after (from /proc of --pid, of the routerd started here, or
    from the gateways' /metrics), and the growth divided by the connections.

    Options:
      --target HOST:PORT[,…]  gateways, used round-robin (default: start `routerd dev`)
      --pid PID[,…]           processes whose memory counts (default: the started routerd;
                              with --target, process_resident_memory_bytes of each /metrics)
      --connections N         connections in all (default 1000, at most 200,000)
      --workers W             worker processes sharing them (default: one per 15,000)
      --sources K             source addresses 127.0.0.2 … 127.0.0.(K+1) (default: one per 20,000, at least 2)
      --concurrency C         connections being opened at once per worker (default 256)
      --hold S                seconds all stay open before the memory is read (default 5)
      --slo LIST              objectives on the connect time (hello answered), e.g. p99<50ms
      --report FILE           write the JSON report to FILE

    Exit status 1 if a connection fails or is dropped while held, or an --slo is missed.
    """

    struct Report: Codable {
        var scenario = "idle"
        var environment = Environment()
        var connections: Int
        var workers: Int
        var sourceAddresses: Int
        var established: Int
        var failed: Int
        var droppedWhileHeld: Int
        var connectSeconds: Double
        var connectsPerSecond: Double
        var connectLatencyMicroseconds: LatencySummary
        var serverResidentBytesBefore: Int
        var serverResidentBytesAfter: Int
        var serverBytesPerConnection: Double
        var loadgenCPUSeconds: Double
        var slo: [SLOResult]
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["target", "pid", "connections", "workers", "sources", "concurrency", "hold", "slo", "report"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let connections = try arguments.int("connections", default: 1000, range: 1...200_000)
        let workers = try arguments.int("workers", default: (connections + 14_999) / 15_000, range: 1...64)
        let sources = try arguments.int("sources", default: max(2, (connections + 19_999) / 20_000), range: 1...250)
        let concurrency = try arguments.int("concurrency", default: 256, range: 1...10_000)
        let hold = try arguments.double("hold", default: 5)
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        guard connections / workers < 19_000 else {
            throw Arguments.Failure(description: "--workers \(workers) would put \(connections / workers) connections in one process; the limit is 20,000 files")
        }

        let (targets, started) = try ServerProcess.targets(arguments) { try ChatScenario.startRouterd(loadOperators: 0, fsync: "always") }
        defer { started?.terminate() }
        let pids = try ServerProcess.pids(arguments, started: started)
        /// The servers' resident memory: from /proc when we know the processes, else from /metrics.
        func serverMemory() throws -> Int {
            if !pids.isEmpty { return pids.compactMap { ProcessResources.residentBytes(pid: $0) }.reduce(0, +) }
            return try targets.map { Int(try HTTPClient.metric("process_resident_memory_bytes", at: $0) ?? 0) }.reduce(0, +)
        }

        let before = try serverMemory()
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let start = MonotonicClock.now()
        let share = (0..<workers).map { connections / workers + ($0 < connections % workers ? 1 : 0) }
        var firstIndex = 0
        let children = try share.map { count -> IdleWorkerProcess in
            defer { firstIndex += count }
            return try IdleWorkerProcess(targets: targets, connections: count, firstIndex: firstIndex, sources: sources, concurrency: concurrency)
        }
        print("\(connections) connections to \(targets.map { "\($0)" }.joined(separator: ", ")) from \(sources) source addresses, \(workers) worker process(es)")
        var ups: [IdleWorker.Up] = []
        for (n, child) in children.enumerated() {
            ups.append(try child.awaitUp { settled in
                print(String(format: "  %5.1f s: worker %d: %d of %d settled", Double(MonotonicClock.now() - start) / 1e9, n + 1, settled, share[n]))
            })
        }
        let connectSeconds = Double(MonotonicClock.now() - start) / 1e9
        let established = ups.reduce(0) { $0 + $1.established }
        print(String(format: "%d of %d established in %.2f s (%.0f/s); holding %.0f s", established, connections, connectSeconds,
                     Double(established) / connectSeconds, hold))
        try ProgressLine.sleep(hold) { "\(established) open, server \(try serverMemory() / 1024) KiB resident" }
        let after = try serverMemory()
        let dones = try children.map { try $0.finish() }
        let dropped = dones.reduce(0) { $0 + $1.dropped }
        var latency = Histogram()
        for up in ups { latency.merge(up.connectLatency) }
        let failed = connections - established

        let slo = SLOResult.check(objectives, against: latency, what: "connect time")
        let cpu = ProcessStats.ownCPUSeconds() - cpuBefore + dones.reduce(0) { $0 + $1.cpuSeconds }
        let perConnection = established == 0 ? 0 : Double(after - before) / Double(established)
        let report = Report(connections: connections, workers: workers, sourceAddresses: sources, established: established, failed: failed,
                            droppedWhileHeld: dropped, connectSeconds: (connectSeconds * 100).rounded() / 100,
                            connectsPerSecond: (Double(established) / connectSeconds).rounded(),
                            connectLatencyMicroseconds: LatencySummary(latency), serverResidentBytesBefore: before, serverResidentBytesAfter: after,
                            serverBytesPerConnection: perConnection.rounded(), loadgenCPUSeconds: (cpu * 100).rounded() / 100, slo: slo)
        let l = report.connectLatencyMicroseconds
        print(String(format: "server memory %.1f MiB -> %.1f MiB: %.0f bytes per idle connection; connect us p50 %.0f p99 %.0f max %.0f",
                     Double(before) / 1_048_576, Double(after) / 1_048_576, perConnection, l.p50, l.p99, l.max))
        print("failed \(failed), dropped while held \(dropped); cpu loadgen (all workers) \(report.loadgenCPUSeconds) s")
        try writeReport(report, to: arguments.string("report"))
        return failed == 0 && dropped == 0 && slo.allSatisfy(\.met) ? 0 : 1
    }

    /// `loadgen idle-worker` (started by `idle`, not by hand): opens its share of the
    /// connections, reports `Up` as one JSON line, holds them until a line arrives on
    /// stdin, then reports `Done` and exits.
    static func runWorker(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["targets", "connections", "first-index", "sources", "concurrency"])
        let targets = (arguments.string("targets") ?? "").split(separator: ",").compactMap { SocketAddress(String($0)) }
        guard !targets.isEmpty else { throw Arguments.Failure(description: "idle-worker needs --targets") }
        let connections = try arguments.int("connections", default: 1, range: 1...19_000)
        let firstIndex = try arguments.int("first-index", default: 0)
        let sources = try arguments.int("sources", default: 1, range: 1...250)
        let concurrency = try arguments.int("concurrency", default: 256, range: 1...10_000)
        ProcessResources.raiseOpenFileLimit()
        let group = EventLoopGroup(loopCount: 1, name: "idle")
        let loop = group.loops[0]
        let worker = try loop.submitAndWait {
            UncheckedBox(IdleWorker(loop: loop, targets: targets, connections: connections, firstIndex: firstIndex, sources: sources,
                                    concurrency: concurrency))
        }
        try loop.submitAndWait { worker.value.start() }
        while !worker.value.progress.wait(seconds: 1, until: { $0.settled == connections }) {
            IdleWorker.emit(IdleWorker.Message(settled: worker.value.progress.read { $0.settled }))
        }
        let up = try loop.submitAndWait { worker.value.up }
        IdleWorker.emit(IdleWorker.Message(up: up))
        _ = readLine()  // the parent has measured: let go
        let done = try loop.submitAndWait { IdleWorker.Done(dropped: worker.value.dropped, cpuSeconds: ProcessStats.ownCPUSeconds()) }
        try loop.submitAndWait { worker.value.closeAll() }
        IdleWorker.emit(IdleWorker.Message(done: done))
        return 0
    }
}

/// One worker's connections, on its loop.
final class IdleWorker: WebSocketClientDelegate {
    /// Reported once every connection is up or failed.
    struct Up: Codable {
        var established: Int
        var failed: Int
        var connectLatency: Histogram
    }

    /// Reported at the end.
    struct Done: Codable {
        var dropped: Int
        var cpuSeconds: Double
    }

    /// One line from a worker to its parent: progress while connecting, then `up`, then `done`.
    struct Message: Codable {
        var settled: Int?
        var up: Up?
        var done: Done?
    }

    struct Progress: Sendable {
        var settled = 0
    }

    let progress = Shared(Progress())
    private let loop: EventLoop
    private let targets: [SocketAddress]
    private let total: Int
    private let firstIndex: Int
    private let sources: Int
    private let concurrency: Int
    private var opened = 0
    private var opening: [ObjectIdentifier: UInt64] = [:]
    private var open: [ObjectIdentifier: WebSocketClient] = [:]
    private var settled = 0
    private var failed = 0
    private(set) var dropped = 0
    private var holding = true
    private var latency = Histogram()

    init(loop: EventLoop, targets: [SocketAddress], connections: Int, firstIndex: Int, sources: Int, concurrency: Int) {
        (self.loop, self.targets, total, self.firstIndex, self.sources, self.concurrency) = (loop, targets, connections, firstIndex, sources, concurrency)
    }

    var up: Up { Up(established: open.count, failed: failed, connectLatency: latency) }

    func start() {
        for _ in 0..<min(concurrency, total) { openNext() }
    }

    /// Connection `i` (counted over all workers) goes to target `i mod targets` from
    /// source address 127.0.0.(2 + i mod sources).
    private func openNext() {
        guard opened < total else { return }
        let index = firstIndex + opened
        opened += 1
        let target = targets[index % targets.count]
        let source = SocketAddress(host: "127.0.0.\(2 + index % sources)", port: 0)
        let client = WebSocketClient.open(to: target, from: source, seed: UInt64(index), delegate: self, on: loop)
        opening[ObjectIdentifier(client)] = MonotonicClock.now()
    }

    private func settle() {
        settled += 1
        progress.update { $0.settled = settled }
        openNext()
    }

    func webSocketDidOpen(_ client: WebSocketClient) {
        client.send(.hello(token: nil, site: "shop"))
    }

    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent) {
        guard case .welcome = event, let began = opening.removeValue(forKey: ObjectIdentifier(client)) else { return }
        latency.record(MonotonicClock.now() - began)
        open[ObjectIdentifier(client)] = client
        settle()
    }

    func webSocketDidClose(_ client: WebSocketClient) {
        let id = ObjectIdentifier(client)
        if opening.removeValue(forKey: id) != nil {
            failed += 1
            settle()
        } else if open.removeValue(forKey: id) != nil, holding {
            dropped += 1
        }
    }

    func closeAll() {
        holding = false
        for client in open.values { client.close() }
    }

    /// One JSON line on stdout: what the parent reads.
    static func emit<T: Encodable>(_ value: T) {
        let data = (try? JSONEncoder().encode(value)) ?? Data()
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

/// The parent's handle on one `loadgen idle-worker` process.
final class IdleWorkerProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    init(targets: [SocketAddress], connections: Int, firstIndex: Int, sources: Int, concurrency: Int) throws {
        process.executableURL = ServerProcess.ownExecutable
        process.arguments = ["idle-worker", "--targets", targets.map { "\($0)" }.joined(separator: ","), "--connections", String(connections),
                             "--first-index", String(firstIndex), "--sources", String(sources), "--concurrency", String(concurrency)]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Waits for the worker's `up`, passing on its progress (connections settled) each second.
    func awaitUp(progress: (Int) -> Void) throws -> IdleWorker.Up {
        while true {
            let message = try nextMessage()
            if let up = message.up { return up }
            if let settled = message.settled { progress(settled) }
        }
    }

    /// Lets the worker close its connections and returns its `done`.
    func finish() throws -> IdleWorker.Done {
        input.fileHandleForWriting.write(Data("close\n".utf8))
        while true {
            if let done = try nextMessage().done {
                process.waitUntilExit()
                return done
            }
        }
    }

    private func nextMessage() throws -> IdleWorker.Message {
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw Arguments.Failure(description: "an idle worker ended early (status \(process.terminationStatus))") }
            buffer += chunk
        }
        let end = buffer.firstIndex(of: UInt8(ascii: "\n"))!
        let line = buffer[buffer.startIndex..<end]
        buffer = Data(buffer[(end + 1)...])
        // The project's one strict reading first (a repeated key is refused), then the typed decode.
        guard JSONParser.parse(Array(line)) != nil else { throw Arguments.Failure(description: "an idle worker wrote a line that is not JSON") }
        return try JSONDecoder().decode(IdleWorker.Message.self, from: Data(line))
    }
}
