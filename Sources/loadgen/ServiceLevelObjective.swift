/// A latency objective a run must meet, from `--slo`: `p99<5ms`, `p99.9<20ms`, `p50<800us`,
/// `max<1s`; several separated by commas. A missed objective makes loadgen exit 1.
struct ServiceLevelObjective: Equatable, Codable {
    /// The percentile (100 for `max`).
    var percentile: Double
    /// The bound, exclusive, in nanoseconds.
    var limitNanoseconds: UInt64
    /// The text it was parsed from.
    var text: String

    /// Parses a comma-separated list; a malformed entry names itself in the error.
    static func parseList(_ text: String) throws -> [ServiceLevelObjective] {
        try text.split(separator: ",").map { try parse(String($0).trimmingCharacters(in: .whitespaces)) }
    }

    static func parse(_ text: String) throws -> ServiceLevelObjective {
        let failure = Arguments.Failure(description: "--slo: '\(text)' is not like p99<5ms, p99.9<20ms, p50<800us or max<1s")
        let parts = text.split(separator: "<", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw failure }
        let percentile: Double
        if parts[0] == "max" {
            percentile = 100
        } else {
            guard parts[0].hasPrefix("p"), let value = Double(parts[0].dropFirst()), value > 0, value < 100 else { throw failure }
            percentile = value
        }
        let units: [(suffix: String, nanoseconds: Double)] = [("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        guard let unit = units.first(where: { parts[1].hasSuffix($0.suffix) }),
              let amount = Double(parts[1].dropLast(unit.suffix.count)), amount > 0 else { throw failure }
        return ServiceLevelObjective(percentile: percentile, limitNanoseconds: UInt64(amount * unit.nanoseconds), text: text)
    }

    /// The measured value at this percentile, and whether it is under the bound.
    func check(_ histogram: Histogram) -> (met: Bool, measuredNanoseconds: UInt64) {
        let measured = percentile == 100 ? histogram.max : histogram.value(atPercentile: percentile)
        return (histogram.count > 0 && measured < limitNanoseconds, measured)
    }
}

/// The outcome of checking `--slo` objectives, as reports carry it.
struct SLOResult: Codable {
    var objective: String
    var measuredMicroseconds: Double
    var met: Bool

    /// Checks each objective against `histogram`, prints the outcome, and returns the results.
    static func check(_ objectives: [ServiceLevelObjective], against histogram: Histogram, what: String) -> [SLOResult] {
        objectives.map { objective in
            let (met, measured) = objective.check(histogram)
            let result = SLOResult(objective: objective.text, measuredMicroseconds: (Double(measured) / 100).rounded() / 10, met: met)
            print("SLO \(objective.text) on \(what): \(met ? "met" : "MISSED") (measured \(result.measuredMicroseconds) us)")
            return result
        }
    }
}
