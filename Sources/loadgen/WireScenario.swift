import Foundation
import Glibc
import Synchronization
import Wire

/// Counters of one client loop; confined to that loop.
final class WireLoopStats {
    var histogram = Histogram()
    var roundTrips: UInt64 = 0
    var outOfOrder: UInt64 = 0
    var corrupt: UInt64 = 0
    var closedUnexpectedly: UInt64 = 0
    var sending = true

    func reset() {
        histogram = Histogram()
        roundTrips = 0
    }

    var snapshot: WireScenario.Snapshot {
        WireScenario.Snapshot(histogram: histogram, roundTrips: roundTrips, outOfOrder: outOfOrder,
                              corrupt: corrupt, closedUnexpectedly: closedUnexpectedly)
    }
}

/// One measured connection: keeps `inFlight` frames outstanding, checks that echoes come
/// back in order and intact, records each round trip's latency.
final class WireBenchConnection: WirePeerDelegate {
    private let stats: WireLoopStats
    private let inFlight: Int
    private let established: Shared<Int>
    private var payload: [UInt8]
    private var nextToSend: UInt32 = 0
    private var nextExpected: UInt32 = 0

    init(stats: WireLoopStats, inFlight: Int, payloadSize: Int, established: Shared<Int>, seed: UInt64) {
        self.stats = stats
        self.inFlight = inFlight
        self.established = established
        var rng = SplitMix64(seed: seed)
        payload = (0..<payloadSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func peerDidEstablish(_ peer: WirePeer) {
        established.update { $0 += 1 }
        for _ in 0..<inFlight { send(peer) }
    }

    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload received: UnsafeRawBufferPointer) {
        let now = MonotonicClock.now()
        guard received.count == payload.count else {
            stats.corrupt += 1
            return
        }
        let sentAt = received.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        if header.correlationID != nextExpected { stats.outOfOrder += 1 }
        nextExpected = header.correlationID &+ 1
        stats.histogram.record(now &- sentAt)
        stats.roundTrips += 1
        if stats.sending { send(peer) }
    }

    func peerWritabilityChanged(_ peer: WirePeer) {}

    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {
        if stats.sending { stats.closedUnexpectedly += 1 }
    }

    private func send(_ peer: WirePeer) {
        let now = MonotonicClock.now()
        payload.withUnsafeMutableBytes { $0.storeBytes(of: now, toByteOffset: 0, as: UInt64.self) }
        let correlation = nextToSend
        nextToSend &+= 1
        payload.withUnsafeBytes { try? peer.sendFrame(type: .conversationEvent, correlationID: correlation, payload: $0) }
    }
}


/// `loadgen wire`: frames per second and round-trip latency over loopback.
enum WireScenario {
    static let usage = """
    loadgen wire: round trips per second and latency against a Wire echo server.

    Every connection keeps --in-flight frames outstanding (pipelined); each echo is checked
    for order and size, and its round-trip time recorded. Without --target an echo server
    is started as a child process (`loadgen echo`) and stopped at the end.

    Options:
      --target HOST:PORT  echo server to use (default: start one)
      --connections N     connections (default 1)
      --in-flight W       frames outstanding per connection (default 256)
      --size B            payload bytes per frame, at least 8 (default 100)
      --seconds S         measured time (default 5)
      --warmup S          unmeasured time before it (default 1)
      --loops N           client event loops (default 1)
      --server-loops N    event loops of the started echo server (default 1)
      --slo LIST          objectives on the round-trip time, e.g. p99<1ms
      --report FILE       write the JSON report to FILE

    Exit status 1 when any frame came back out of order, corrupt, or a connection dropped,
    or an --slo is missed.
    """

    struct Snapshot: Sendable {
        var histogram: Histogram
        var roundTrips: UInt64
        var outOfOrder: UInt64
        var corrupt: UInt64
        var closedUnexpectedly: UInt64
    }

    struct Report: Codable {
        var scenario = "wire"
        var environment = Environment()
        var connections: Int
        var inFlightPerConnection: Int
        var payloadBytes: Int
        var seconds: Double
        var roundTrips: UInt64
        var roundTripsPerSecond: Double
        var framesPerSecondEachWay: Double
        var latencyMicroseconds: LatencySummary
        var outOfOrder: UInt64
        var corrupt: UInt64
        var closedUnexpectedly: UInt64
        var loadgenCPUSeconds: Double
        var serverCPUSeconds: Double?
        var serverPid: Int32?
        var slo: [SLOResult]
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["target", "connections", "in-flight", "size", "seconds", "warmup", "loops",
                                                   "server-loops", "slo", "report"])
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let connections = try arguments.int("connections", default: 1, range: 1...100_000)
        let inFlight = try arguments.int("in-flight", default: 256, range: 1...100_000)
        let size = try arguments.int("size", default: 100, range: 8...(1 << 20))
        let seconds = try arguments.double("seconds", default: 5)
        let warmup = try arguments.double("warmup", default: 1)
        let loopCount = try arguments.int("loops", default: 1, range: 1...64)
        let serverLoops = try arguments.int("server-loops", default: 1, range: 1...64)
        ProcessResources.raiseOpenFileLimit()

        let (targets, child) = try ServerProcess.targets(arguments) { try startEchoServer(loops: serverLoops) }
        guard targets.count == 1, let target = targets.first else { throw Arguments.Failure(description: "--target takes one echo server") }
        defer { child?.terminate() }

        let group = EventLoopGroup(loopCount: loopCount, name: "loadgen")
        let established = Shared(0)
        var statsPerLoop: [UncheckedBox<WireLoopStats>] = []
        for loop in group.loops {
            statsPerLoop.append(try loop.submitAndWait { UncheckedBox(WireLoopStats()) })
        }
        var clients: [UncheckedBox<WireClient>] = []
        for index in 0..<connections {
            let loopIndex = index % loopCount
            let loop = group.loops[loopIndex]
            let stats = statsPerLoop[loopIndex]
            clients.append(try loop.submitAndWait {
                let connection = WireBenchConnection(stats: stats.value, inFlight: inFlight, payloadSize: size,
                                                     established: established, seed: UInt64(index))
                let client = WireClient(loop: loop, address: target,
                                        configuration: BenchCluster.configuration(nodeID: "loadgen-\(index)", role: .tool, secret: "loadgen"),
                                        delegate: connection)
                client.start()
                return UncheckedBox(client)
            })
        }
        guard established.wait(seconds: 30, until: { $0 == connections }) else {
            throw Arguments.Failure(description: "only \(established.read { $0 }) of \(connections) connections established")
        }
        print("\(connections) connections established, warming up \(warmup) s")
        Thread.sleep(forTimeInterval: warmup)

        for (index, loop) in group.loops.enumerated() {
            let stats = statsPerLoop[index]
            try loop.submitAndWait { stats.value.reset() }
        }
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let serverCPUBefore = child.flatMap { ProcessStats.cpuSeconds(pid: $0.processIdentifier) }
        let start = MonotonicClock.now()
        try ProgressLine.sleep(seconds) {
            var roundTrips: UInt64 = 0
            for (index, loop) in group.loops.enumerated() {
                let stats = statsPerLoop[index]
                roundTrips += try loop.submitAndWait { stats.value.snapshot.roundTrips }
            }
            return "\(roundTrips) round trips"
        }
        var total = Snapshot(histogram: Histogram(), roundTrips: 0, outOfOrder: 0, corrupt: 0, closedUnexpectedly: 0)
        for (index, loop) in group.loops.enumerated() {
            let stats = statsPerLoop[index]
            let snapshot = try loop.submitAndWait { stats.value.snapshot }
            total.histogram.merge(snapshot.histogram)
            total.roundTrips += snapshot.roundTrips
            total.outOfOrder += snapshot.outOfOrder
            total.corrupt += snapshot.corrupt
            total.closedUnexpectedly += snapshot.closedUnexpectedly
        }
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        let cpuUsed = ProcessStats.ownCPUSeconds() - cpuBefore
        let serverCPU = child.flatMap { ProcessStats.cpuSeconds(pid: $0.processIdentifier) }.map { $0 - (serverCPUBefore ?? 0) }

        for (index, loop) in group.loops.enumerated() {
            let stats = statsPerLoop[index]
            try loop.submitAndWait { stats.value.sending = false }
        }
        for (index, client) in clients.enumerated() {
            try group.loops[index % loopCount].submitAndWait { client.value.stop() }
        }

        let rate = Double(total.roundTrips) / elapsed
        let report = Report(connections: connections, inFlightPerConnection: inFlight, payloadBytes: size,
                            seconds: (elapsed * 100).rounded() / 100, roundTrips: total.roundTrips,
                            roundTripsPerSecond: rate.rounded(), framesPerSecondEachWay: rate.rounded(),
                            latencyMicroseconds: LatencySummary(total.histogram), outOfOrder: total.outOfOrder,
                            corrupt: total.corrupt, closedUnexpectedly: total.closedUnexpectedly,
                            loadgenCPUSeconds: (cpuUsed * 100).rounded() / 100,
                            serverCPUSeconds: serverCPU.map { ($0 * 100).rounded() / 100 },
                            serverPid: child?.processIdentifier,
                            slo: SLOResult.check(objectives, against: total.histogram, what: "round-trip time"))
        let latency = report.latencyMicroseconds
        print(String(format: "%d conn x %d in flight, %d B: %.0f round trips/s; RTT us p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f",
                     connections, inFlight, size, rate, latency.p50, latency.p90, latency.p99, latency.p999, latency.max))
        print(String(format: "cpu: loadgen %.2f s, server %@ over %.2f s; out of order %llu, corrupt %llu, dropped %llu",
                     cpuUsed, serverCPU.map { String(format: "%.2f s", $0) } ?? "n/a", elapsed,
                     total.outOfOrder, total.corrupt, total.closedUnexpectedly))
        try writeReport(report, to: arguments.string("report"))
        return total.outOfOrder == 0 && total.corrupt == 0 && total.closedUnexpectedly == 0 && report.slo.allSatisfy(\.met) ? 0 : 1
    }

    /// Starts `loadgen echo` on an ephemeral loopback port and returns it with its address.
    static func startEchoServer(loops: Int) throws -> (Process, SocketAddress) {
        try ServerProcess.start(ServerProcess.ownExecutable,
                                ["echo", "--listen", "127.0.0.1:0", "--loops", String(loops), "--until-stdin-closes"],
                                addressAfter: "listening ")
    }
}

