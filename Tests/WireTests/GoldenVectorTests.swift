import Foundation
import Testing
import Wire

/// One fixed sample per message type. Their encodings are frozen in Fixtures/<type>.hex:
/// if a change to the code alters a byte, these tests fail, because deployed nodes would
/// no longer understand each other. Set SWITCHBOARD_RECORD_GOLDEN=1 only when adding a
/// new message type, and check the new file against docs/wire.md by hand.
private let samples: [(name: String, message: WireMessage)] = [
    ("hello", .hello(.init(protocolVersion: 1, nodeID: "gw-1", role: .gateway, clusterName: "prod",
                           nonce: Array(0..<32)))),
    ("challenge", .challenge(.init(nodeID: "router-a", role: .router, nonce: Array(32..<64), proof: Array(64..<96)))),
    ("authenticate", .authenticate(proof: Array(96..<128))),
    ("welcome", .welcome),
    ("error", .error(code: 10, message: "authentication failed")),
    ("ping", .ping(token: 300)),
    ("pong", .pong(token: 300)),
    ("redirect", .redirect(partition: 513, nodeID: "router-b", address: "127.0.0.2:7400")),
    ("clientCommand", .clientCommand(sessionID: 42, conversationID: "conv-7", body: Array(#"{"t":"send","text":"Hi"}"#.utf8))),
    ("conversationEvent", .conversationEvent(conversationID: "conv-7", sequence: 129, body: Array(#"{"t":"message","text":"Grüße"}"#.utf8))),
    ("subscribe", .subscribe(conversationID: "conv-7", afterSequence: 128)),
    ("unsubscribe", .unsubscribe(conversationID: "conv-7")),
    ("ack", .ack(conversationID: "conv-7", sequence: 129)),
    ("reply", .reply(body: Array(#"{"sequence":3,"type":"accepted"}"#.utf8))),
    ("operatorEvent", .operatorEvent(operatorID: "anna", body: Array(#"{"status":"away","type":"statusChanged"}"#.utf8))),
    ("sessionClosed", .sessionClosed(sessionID: 42)),
    ("sessionEvent", .sessionEvent(sessionID: 42, body: Array(#"{"type":"invitation"}"#.utf8))),
    // A compressed frame, so the LZ4 layout is frozen too.
    ("conversationEvent-lz4", .conversationEvent(conversationID: "conv-7", sequence: 1,
                                                 body: Array(String(repeating: "where is my parcel? ", count: 30).utf8))),
]

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite struct GoldenVectorTests {
    @Test func everyMessageType_hasAGoldenVector() {
        let covered = Set(samples.map(\.message.type))
        #expect(covered == Set(MessageType.allCases))
    }

    @Test(arguments: samples.map(\.name))
    func encoding_matchesTheFrozenBytes_andDecodesBack(name: String) throws {
        let message = try #require(samples.first { $0.name == name }?.message)
        var encoder = FrameEncoder()
        var out = ByteWriter()
        try encoder.encode(message, correlationID: 7, into: &out)
        let file = fixtures.appendingPathComponent("\(name).hex")
        if ProcessInfo.processInfo.environment["SWITCHBOARD_RECORD_GOLDEN"] == "1" {
            try (out.bytes.hexString + "\n").write(to: file, atomically: true, encoding: .utf8)
        }
        let frozen = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(out.bytes.hexString == frozen)
        let frame = try #require(try DecoderVerifier.decode([UInt8](hexString: frozen)).get().frames.first)
        #expect(frame.header.correlationID == 7)
        #expect(try frame.payload.withUnsafeBytes { try WireMessage.decode(type: frame.header.type, payload: $0) } == message)
    }
}
