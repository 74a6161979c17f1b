import Testing
@testable import loadgen

@Suite struct ServiceLevelObjectiveTests {
    @Test func objectives_parseWithTheirUnits() throws {
        let parsed = try ServiceLevelObjective.parseList("p99<5ms, p99.9<20ms,p50<800us,max<1s")
        #expect(parsed.map(\.percentile) == [99, 99.9, 50, 100])
        #expect(parsed.map(\.limitNanoseconds) == [5_000_000, 20_000_000, 800_000, 1_000_000_000])
    }

    @Test(arguments: ["p99", "p99>5ms", "p100<5ms", "p0<5ms", "q99<5ms", "p99<5", "p99<5min", "p99<-1ms", "p99<ms", ""])
    func malformedObjectives_areRefused_namingThemselves(text: String) {
        #expect(throws: Arguments.Failure.self) { try ServiceLevelObjective.parse(text) }
    }

    @Test func anObjective_isMetOnlyBelowItsBound_andNeverOnNoData() throws {
        var histogram = Histogram()
        for micros in 1...1000 { histogram.record(UInt64(micros) * 1000) }  // 1 µs … 1 ms
        #expect(try ServiceLevelObjective.parse("p99<1ms").check(histogram).met)
        #expect(try !ServiceLevelObjective.parse("p99<900us").check(histogram).met)
        #expect(try !ServiceLevelObjective.parse("max<1ms").check(histogram).met, "the maximum is exactly 1 ms: not under it")
        #expect(try ServiceLevelObjective.parse("max<2ms").check(histogram).met)
        #expect(try !ServiceLevelObjective.parse("p50<1s").check(Histogram()).met, "no measurements meet nothing")
    }
}
