import Foundation

/// Latency percentiles in microseconds, as reported.
struct LatencySummary: Codable {
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var mean: Double

    init(_ histogram: Histogram) {
        func micros(_ nanoseconds: UInt64) -> Double { (Double(nanoseconds) / 1000 * 10).rounded() / 10 }
        p50 = micros(histogram.value(atPercentile: 50))
        p90 = micros(histogram.value(atPercentile: 90))
        p99 = micros(histogram.value(atPercentile: 99))
        p999 = micros(histogram.value(atPercentile: 99.9))
        max = micros(histogram.count == 0 ? 0 : histogram.max)
        mean = micros(UInt64(histogram.mean))
    }
}

/// Writes a report as pretty JSON to `path`, or says why it could not.
func writeReport<R: Encodable>(_ report: R, to path: String?) throws {
    guard let path else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(report)
    try data.write(to: URL(fileURLWithPath: path))
    print("report written to \(path)")
}

/// Facts about the run's environment every report carries.
struct Environment: Codable {
    var host: String = ProcessInfo.processInfo.hostName
    var cores: Int = ProcessInfo.processInfo.activeProcessorCount
    var date: String = ISO8601DateFormatter().string(from: Date())
    #if DEBUG
    var build = "debug"
    #else
    var build = "release"
    #endif
}
