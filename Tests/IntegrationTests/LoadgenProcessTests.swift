import Foundation
import Testing

/// Runs the real loadgen binary (which starts its own echo server process) and checks the
/// JSON report: the multi-process path a benchmark run takes.
@Suite(.serialized, .timeLimit(.minutes(1))) struct LoadgenProcessTests {
    private var buildDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug")
    }

    private func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = buildDirectory.appendingPathComponent("loadgen")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func wireScenario_againstItsOwnEchoServer_reportsVerifiedRoundTrips() throws {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("wire-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: report) }
        let status = try run(["wire", "--seconds", "1", "--warmup", "0.2", "--connections", "20", "--in-flight", "4",
                              "--report", report.path])
        #expect(status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        #expect((json["roundTrips"] as? Int ?? 0) > 1000)
        #expect(json["outOfOrder"] as? Int == 0)
        #expect(json["corrupt"] as? Int == 0)
        #expect(json["closedUnexpectedly"] as? Int == 0)
        let latency = try #require(json["latencyMicroseconds"] as? [String: Double])
        #expect((latency["p50"] ?? 0) > 0 && (latency["p50"] ?? 0) <= (latency["p99"] ?? 0))
    }

    @Test func unknownOption_exitsWithUsageError() throws {
        #expect(try run(["wire", "--bogus", "1"]) == 2)
        #expect(try run(["nonsense"]) == 2)
    }
}
