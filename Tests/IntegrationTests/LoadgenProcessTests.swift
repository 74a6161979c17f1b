import Foundation
import Testing

/// Runs the real loadgen binary (which starts its own echo server process) and checks the
/// JSON report: the multi-process path a benchmark run takes.
@Suite(.serialized, .timeLimit(.minutes(1))) struct LoadgenProcessTests {
    private var buildDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug")
    }

    private func report(_ arguments: [String]) throws -> (status: Int32, json: [String: Any]) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loadgen-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let status = try run(arguments + ["--report", file.path])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] ?? [:]
        return (status, json)
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

    /// At full load the generator spends less CPU per message than the servers it drives
    /// (verification included): given the same CPU it offers more than they can take.
    @Test func chatScenario_verifiesEveryMessage_andCostsLessCPUThanTheServer() throws {
        let (status, json) = try report(["chat", "--conversations", "50", "--seconds", "2", "--warmup", "0.5"])
        #expect(status == 0)
        #expect((json["messagesDelivered"] as? Int ?? 0) > 500)
        #expect(json["lost"] as? Int == 0 && json["duplicated"] as? Int == 0 && json["reordered"] as? Int == 0)
        let loadgen = try #require(json["loadgenCPUSeconds"] as? Double), server = try #require(json["serverCPUSeconds"] as? Double)
        #expect(loadgen < server, "loadgen \(loadgen) s of CPU, the server \(server) s")
    }

    @Test func chatScenario_withChatsThatEndAndRestart_measuresStartToOfferAndFirstReply() throws {
        let (status, json) = try report(["chat", "--conversations", "20", "--duration", "2", "--warmup", "0.3", "--messages-per-chat", "5",
                                         "--accept-delay-ms", "20"])
        #expect(status == 0)
        #expect((json["chatsStarted"] as? Int ?? 0) > 20, "chats ended and new ones started")
        #expect(json["lost"] as? Int == 0 && json["duplicated"] as? Int == 0 && json["reordered"] as? Int == 0)
        let offer = try #require(json["startToOfferMicroseconds"] as? [String: Double])
        let reply = try #require(json["startToFirstReplyMicroseconds"] as? [String: Double])
        #expect((reply["p50"] ?? 0) >= 20_000, "the first reply comes after the 20 ms accept delay")
        #expect((offer["p50"] ?? 0) > 0 && (offer["p50"] ?? 0) < (reply["p50"] ?? 0))
    }

    @Test func idleScenario_spreadsConnectionsOverWorkersAndSourceAddresses_andReportsMemoryPerConnection() throws {
        let (status, json) = try report(["idle", "--connections", "300", "--workers", "2", "--sources", "3", "--hold", "0.5"])
        #expect(status == 0)
        #expect(json["established"] as? Int == 300 && json["failed"] as? Int == 0 && json["droppedWhileHeld"] as? Int == 0)
        #expect(json["workers"] as? Int == 2 && json["sourceAddresses"] as? Int == 3)
        #expect((json["serverResidentBytesAfter"] as? Int ?? 0) > 0)
    }

    @Test func aMissedObjective_exitsWithStatus1_andSaysSoInTheReport() throws {
        let (status, json) = try report(["chat", "--conversations", "5", "--seconds", "0.5", "--warmup", "0.1", "--slo", "p50<1us"])
        #expect(status == 1)
        let slo = try #require((json["slo"] as? [[String: Any]])?.first)
        #expect(slo["objective"] as? String == "p50<1us" && slo["met"] as? Bool == false)
    }

    @Test func unknownOption_exitsWithUsageError() throws {
        #expect(try run(["wire", "--bogus", "1"]) == 2)
        #expect(try run(["nonsense"]) == 2)
        #expect(try run(["chat", "--slo", "p99<5parsecs"]) == 2)
    }
}
