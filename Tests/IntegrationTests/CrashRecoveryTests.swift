import Foundation
import Router
import Testing
import Wire

/// A real process appending at full speed is killed with SIGKILL; every append it had
/// acknowledged must be in the log when it is opened again.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CrashRecoveryTests {
    private var loadgen: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/loadgen")
    }

    @Test func sigkillWhileAppending_losesNoAcknowledgedRecord() throws {
        let directory = NSTemporaryDirectory() + "switchboard-crash-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var acknowledged: Set<UInt64> = []
        for round in 0..<3 {
            let process = Process()
            process.executableURL = loadgen
            process.arguments = ["log", "--dir", directory, "--policy", "always", "--in-flight", "64", "--print-acks"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            // Read acknowledgements until a few thousand have arrived, then kill mid-stream.
            var buffer = Data()
            var seenThisRound = 0
            while seenThisRound < 2000 {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if line.hasPrefix("ack "), let number = UInt64(line.dropFirst(4)) {
                        acknowledged.insert(number)
                        seenThisRound += 1
                    }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the writer should have been killed")
            #expect(seenThisRound >= 2000, "round \(round): the writer should have acknowledged appends")

            let (_, recovery) = try SegmentedLog.open(directory: directory)
            let count = UInt64(recovery.records.count)
            let missing = acknowledged.filter { $0 >= count }
            #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged records lost (log has \(count))")
            // Each record carries the serial its writer gave it: no record is there twice.
            let serials = recovery.records.map { record in
                record.body.withUnsafeBytes { raw -> UInt64 in
                    var reader = ByteReader(raw)
                    return (try? reader.readVarint()) ?? .max
                }
            }
            #expect(Set(serials).count == serials.count, "round \(round): a record appears twice")
        }
    }
}
