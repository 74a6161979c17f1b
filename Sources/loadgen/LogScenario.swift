import Foundation
import Router
import Synchronization
import Wire

/// `loadgen log`: durable appends per second and append-to-acknowledgement latency.
enum LogScenario {
    static let usage = """
    loadgen log: durable appends per second and append-to-ack latency of the router log.

    --in-flight appenders each keep one record outstanding (closed loop): append, wait for
    the acknowledgement (after fdatasync with --policy always), append again. Concurrent
    appends share each sync (group commit).

    Options:
      --dir PATH         log directory (default: a fresh temporary one, removed after)
      --policy P         always | interval | none (default always)
      --size N           record body bytes (default 200)
      --in-flight N      outstanding appends (default 256)
      --seconds S        measuring time (default 3)
      --print-acks       print "ack N" for every acknowledged record, as it happens, and run
                         until killed (what the crash test uses)
      --slo LIST         objectives on the append-to-ack latency, e.g. p99<3ms (exit 1 if missed)
      --report FILE      write the JSON report to FILE
    """

    struct Report: Codable {
        var scenario = "log"
        var environment = Environment()
        var policy: String
        var recordBytes: Int
        var inFlight: Int
        var seconds: Double
        var appends: Int
        var appendsPerSecond: Double
        var ackLatencyMicroseconds: LatencySummary
        var cpuSeconds: Double
        var slo: [SLOResult]
    }

    /// Shared by the appenders' completions (which run on the log's writer thread).
    private struct Stats {
        var histogram = Histogram()
        var appends = 0
        var measuring = false
        var stopping = false
        var outstanding = 0
        var nextSerial: UInt64 = 0
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["dir", "policy", "size", "in-flight", "seconds", "slo", "report"], switches: ["print-acks"])
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let policyName = arguments.string("policy") ?? "always"
        guard let policy = SyncPolicy(rawValue: policyName) else { throw Arguments.Failure(description: "--policy must be always, interval or none") }
        let size = try arguments.int("size", default: 200, range: 8...(1 << 20))
        let inFlight = try arguments.int("in-flight", default: 256, range: 1...100_000)
        let seconds = try arguments.double("seconds", default: 3)
        let printAcks = arguments.flag("print-acks")
        let ownDirectory = arguments.string("dir") == nil
        let directory = arguments.string("dir") ?? NSTemporaryDirectory() + "switchboard-loadgen-log-\(getpid())"
        defer { if ownDirectory { try? FileManager.default.removeItem(atPath: directory) } }

        let (log, recovery) = try DurableLog.open(directory: directory, policy: policy)
        let stats = Mutex(Stats())
        let finished = DispatchSemaphore(value: 0)

        /// One appender: append, and on the acknowledgement record the latency and go again.
        @Sendable func appendNext() {
            let serial = stats.withLock { stats in
                defer { stats.nextSerial += 1 }
                return stats.nextSerial
            }
            var body = ByteWriter(capacity: size)
            body.writeVarint(serial)  // so a reader can tell which append a record is
            while body.count < size { body.writeUInt8(UInt8(truncatingIfNeeded: serial &+ UInt64(body.count))) }
            let sent = MonotonicClock.now()
            log.append([(type: 1, body: body.bytes)]) { result in
                let latency = MonotonicClock.now() - sent
                guard case .success(let number) = result else {
                    FileHandle.standardError.write(Data("append failed: \(result)\n".utf8))
                    exit(1)
                }
                if printAcks { FileHandle.standardOutput.write(Data("ack \(number)\n".utf8)) }
                let goOn = stats.withLock { stats -> Bool in
                    if stats.measuring {
                        stats.histogram.record(latency)
                        stats.appends += 1
                    }
                    if stats.stopping {
                        stats.outstanding -= 1
                        if stats.outstanding == 0 { finished.signal() }
                        return false
                    }
                    return true
                }
                if goOn { appendNext() }
            }
        }

        stats.withLock {
            $0.outstanding = inFlight
            $0.nextSerial = UInt64(recovery.records.count)
        }
        for _ in 0..<inFlight { appendNext() }
        if printAcks {
            while true { pause() }
        }
        Thread.sleep(forTimeInterval: 0.5)  // warm-up: let batch sizes settle
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let start = MonotonicClock.now()
        stats.withLock { $0.measuring = true }
        ProgressLine.sleep(seconds) { "\(stats.withLock { $0.appends }) durable appends" }
        let (histogram, appends) = stats.withLock { stats in
            stats.measuring = false
            stats.stopping = true
            return (stats.histogram, stats.appends)
        }
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        finished.wait()
        log.close()

        let report = Report(policy: policy.rawValue, recordBytes: size, inFlight: inFlight, seconds: (elapsed * 100).rounded() / 100,
                            appends: appends, appendsPerSecond: (Double(appends) / elapsed).rounded(),
                            ackLatencyMicroseconds: LatencySummary(histogram),
                            cpuSeconds: ((ProcessStats.ownCPUSeconds() - cpuBefore) * 100).rounded() / 100,
                            slo: SLOResult.check(objectives, against: histogram, what: "ack latency"))
        let latency = report.ackLatencyMicroseconds
        print(String(format: "%@ policy, %d B records, %d in flight: %.0f appends/s; ack latency us p50 %.0f p99 %.0f p99.9 %.0f max %.0f",
                     policy.rawValue, size, inFlight, report.appendsPerSecond, latency.p50, latency.p99, latency.p999, latency.max))
        try writeReport(report, to: arguments.string("report"))
        return report.slo.allSatisfy(\.met) ? 0 : 1
    }
}
