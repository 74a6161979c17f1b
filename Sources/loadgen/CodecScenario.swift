import Foundation
import Wire

/// `loadgen codec`: how fast one core frames and unframes chat messages.
enum CodecScenario {
    static let usage = """
    loadgen codec: encode + decode rate of chat-message frames on one core.

    Each case encodes batches of 1,000 conversationEvent frames into one buffer and decodes
    them again with the zero-copy decoder, verifying every payload length.

    Options:
      --seconds S    time per case (default 2)
      --report FILE  write the JSON report to FILE
    """

    struct Case: Codable {
        var name: String
        var payloadBytes: Int
        var lz4: Bool
        var wireBytesPerFrame: Double
        var framesPerSecond: Double
        var megabytesPerSecond: Double
    }

    struct Report: Codable {
        var scenario = "codec"
        var environment = Environment()
        var secondsPerCase: Double
        var cases: [Case]
        var cpuSeconds: Double
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["seconds", "report"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let seconds = try arguments.double("seconds", default: 2)
        var cases: [Case] = []
        for (size, lz4) in [(100, false), (100, true), (4096, false), (4096, true)] {
            let result = measure(payloadSize: size, lz4: lz4, seconds: seconds)
            cases.append(result)
            print(String(format: "%-14@ %10.0f frames/s  %8.1f MB/s  %7.1f wire bytes/frame",
                         result.name, result.framesPerSecond, result.megabytesPerSecond, result.wireBytesPerFrame))
        }
        try writeReport(Report(secondsPerCase: seconds, cases: cases, cpuSeconds: ProcessStats.ownCPUSeconds()),
                        to: arguments.string("report"))
        return 0
    }

    /// A chat message body: realistic text, so LZ4 sees what it would see in production.
    static func chatPayload(size: Int) -> [UInt8] {
        let text = "Hi! I ordered the blue running shoes (order #48213) last Tuesday and the tracking page still says label created. Could you check whether the parcel has left the warehouse? Thanks, Maria. "
        var bytes: [UInt8] = []
        while bytes.count < size { bytes += Array(text.utf8) }
        return Array(bytes.prefix(size))
    }

    static func measure(payloadSize: Int, lz4: Bool, seconds: Double) -> Case {
        let payload = chatPayload(size: payloadSize)
        // LZ4 off means a threshold no payload reaches; on means every payload is tried.
        let encoder = FrameEncoder(compressionThreshold: lz4 ? 64 : .max)
        var decoder = FrameDecoder()
        var out = ByteWriter(capacity: 1000 * (payloadSize + 64))
        let batch = 1000
        var frames = 0
        var wireBytes = 0
        var payloadBytes = 0
        let start = MonotonicClock.now()
        let end = start + UInt64(seconds * 1e9)
        var now = start
        payload.withUnsafeBytes { payloadView in
            while now < end {
                out.clear()
                for index in 0..<batch {
                    try! encoder.encode(type: .conversationEvent, correlationID: UInt32(index), payload: payloadView, into: &out)
                }
                wireBytes += out.count
                out.bytes.withUnsafeBytes { stream in
                    try! decoder.decode(stream) { _, decoded in
                        precondition(decoded.count == payloadSize, "decoded payload has the wrong length")
                        payloadBytes += decoded.count
                        frames += 1
                        return true
                    }
                }
                now = MonotonicClock.now()
            }
        }
        let elapsed = Double(now - start) / 1e9
        return Case(name: "\(payloadSize)B\(lz4 ? "+lz4" : "")", payloadBytes: payloadSize, lz4: lz4,
                    wireBytesPerFrame: Double(wireBytes) / Double(frames),
                    framesPerSecond: (Double(frames) / elapsed).rounded(),
                    megabytesPerSecond: (Double(payloadBytes) / elapsed / 1e6 * 10).rounded() / 10)
    }
}
