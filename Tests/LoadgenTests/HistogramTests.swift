import Testing
@testable import loadgen
import Wire

@Suite struct HistogramTests {
    @Test func smallValues_areExact() {
        var histogram = Histogram()
        for value in 0..<256 { histogram.record(UInt64(value)) }
        #expect(histogram.value(atPercentile: 50) == 127)
        #expect(histogram.value(atPercentile: 100) == 255)
        #expect(histogram.min == 0 && histogram.max == 255)
    }

    @Test func everyValue_isReportedWithinOnePercent() {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<10_000 {
            let value = UInt64.random(in: 256...UInt64(1) << 50, using: &rng)
            let reported = Histogram.highestValue(inBucket: Histogram.index(of: value))
            #expect(reported >= value)
            #expect(Double(reported - value) / Double(value) < 0.01, "value \(value) reported as \(reported)")
        }
    }

    @Test func bucketIndex_isMonotonic_acrossPowersOfTwo() {
        var previous = -1
        for shift in 0..<64 {
            for value in [UInt64(1) << shift, (UInt64(1) << shift) | ((UInt64(1) << shift) >> 1)] {
                let index = Histogram.index(of: value)
                #expect(index >= previous)
                previous = index
            }
        }
        #expect(Histogram.index(of: .max) == Histogram.index(of: .max - 1))
    }

    @Test func percentiles_ofAKnownDistribution() {
        var histogram = Histogram()
        for value in 1...10_000 { histogram.record(UInt64(value) * 1_000) }  // 1 us ... 10 ms
        let p50 = Double(histogram.value(atPercentile: 50))
        let p99 = Double(histogram.value(atPercentile: 99))
        let p999 = Double(histogram.value(atPercentile: 99.9))
        #expect(abs(p50 - 5_000_000) / 5_000_000 < 0.01)
        #expect(abs(p99 - 9_900_000) / 9_900_000 < 0.01)
        #expect(abs(p999 - 9_990_000) / 9_990_000 < 0.01)
        #expect(histogram.value(atPercentile: 100) == 10_000_000)
    }

    @Test func merge_equalsRecordingEverythingInOne() {
        var rng = SplitMix64(seed: 5)
        var all = Histogram(), left = Histogram(), right = Histogram()
        for index in 0..<5_000 {
            let value = UInt64.random(in: 0...1_000_000_000, using: &rng)
            all.record(value)
            if index % 3 == 0 { left.record(value) } else { right.record(value) }
        }
        left.merge(right)
        #expect(left == all)
    }

    @Test func empty_reportsZero() {
        #expect(Histogram().value(atPercentile: 99) == 0)
        #expect(Histogram().mean == 0)
    }
}

@Suite struct ArgumentsTests {
    @Test func unknownFlag_isRejectedByName() {
        #expect(throws: Arguments.Failure.self) { try Arguments(["--conections", "5"], known: ["connections"]) }
    }

    @Test func outOfRangeValue_namesTheFlag() throws {
        let arguments = try Arguments(["--connections", "0"], known: ["connections"])
        do {
            _ = try arguments.int("connections", default: 1, range: 1...10)
            Issue.record("0 should be out of range")
        } catch let failure as Arguments.Failure {
            #expect(failure.description.contains("--connections"))
        }
    }

    @Test func valuesAndDefaults() throws {
        let arguments = try Arguments(["--seconds", "2.5"], known: ["seconds", "size"])
        #expect(try arguments.double("seconds", default: 1) == 2.5)
        #expect(try arguments.int("size", default: 100) == 100)
    }

    @Test func switches_takeNoValue_andDoNotSwallowTheNextOption() throws {
        let arguments = try Arguments(["--until-stdin-closes", "--loops", "2"], known: ["loops"], switches: ["until-stdin-closes"])
        #expect(arguments.flag("until-stdin-closes"))
        #expect(try arguments.int("loops", default: 1) == 2)
        #expect(!(try Arguments(["--loops", "2"], known: ["loops"], switches: ["x"])).flag("x"))
    }
}

@Suite struct HistogramEdgeTests {
    @Test func theLargestValues_doNotOverflow() {
        var histogram = Histogram()
        histogram.record(.max)
        histogram.record(1)
        #expect(histogram.value(atPercentile: 100) == .max)
        #expect(histogram.value(atPercentile: 50) == 1)
    }
}
