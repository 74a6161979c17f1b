import Testing
@testable import Wire

@Suite struct LoggerTests {
    @Test func aLine_quotesWhatWouldNotSplitBack_andLeavesPlainValuesBare() {
        let line = Logger.line(time: "2026-12-01T18:00:00Z", level: .warning, component: "router", message: "send failed",
                               fields: [("conversation", "c1f"), ("error", "link \"closing\"\nnow"), ("empty", ""), ("eq", "a=b")])
        #expect(line == #"ts=2026-12-01T18:00:00Z level=warning component=router msg="send failed" conversation=c1f error="link \"closing\"\nnow" empty="" eq="a=b""#)
    }

    @Test func linesBelowTheMinimumLevel_areNeverFormatted() {
        var formatted = false
        func message() -> String {
            formatted = true
            return "expensive"
        }
        Logger(label: "test", minimumLevel: .error).debug(message())
        #expect(!formatted)
    }
}
