import Testing
@testable import loadgen

@Suite struct DeliveryTallyTests {
    @Test func deliveriesAfterTheWindowCloses_areDrained_notCountedInTheWindow() {
        var tally = DeliveryTally()
        tally.record(latency: 5)  // the warm-up: forgotten when the window opens
        tally.openWindow()
        for latency in 1...10 { tally.record(latency: UInt64(latency)) }
        tally.closeWindow()
        for _ in 0..<4 { tally.record(latency: 1_000_000) }  // arrive during the drain
        #expect(tally.delivered == 10)
        #expect(tally.drained == 4)
        #expect(tally.latency.count == 10)
        #expect(tally.latency.max == 10, "a drained message's latency is not the window's")
    }

    @Test func slices_splitTheWindow_andSumToIt() {
        var tally = DeliveryTally()
        tally.openWindow()
        tally.record(latency: 1)
        tally.record(latency: 2)
        let first = tally.takeSlice()
        tally.record(latency: 3)
        tally.closeWindow()
        tally.record(latency: 4)
        let second = tally.takeSlice()
        #expect(first.delivered == 2 && second.delivered == 1)
        #expect(first.delivered + second.delivered == tally.delivered)
    }
}
