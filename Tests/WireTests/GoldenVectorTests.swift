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
    ("conversationEvent", .conversationEvent(conversationID: "conv-7", sequence: 129, body: Array(#"{"t":"message","text":"Grüße"}"#.utf8))),
    ("subscribe", .subscribe(conversationID: "conv-7", afterSequence: 128)),
    ("unsubscribe", .unsubscribe(conversationID: "conv-7")),
    ("ack", .ack(conversationID: "conv-7", sequence: 129)),
    ("sessionClosed", .sessionClosed(sessionID: 42)),
    ("command", .command(sessionID: 42, principal: TypedSamples.principal, command: .send(conversation: "c1f", clientMessageID: "m-1", text: "Hi"))),
    ("commandReply", .commandReply(.event(.accepted(requestID: "m-1", conversation: "c1f", sequence: 3)))),
    ("conversationUpdate", .conversationUpdate(conversationID: "c1f", sequence: 3, event: TypedSamples.events[4].event)),
    ("operatorUpdate", .operatorUpdate(operatorID: "shop/anna", event: TypedSamples.events[15].event)),
    ("sessionUpdate", .sessionUpdate(sessionID: 42, event: TypedSamples.events[16].event)),
    ("routing", .routing(body: [1, 4, 5, 12])),
    ("partitionTable", .partitionTable(PartitionTableNotice(
        version: 70, routers: [.init(node: "router-1", address: "127.0.0.1:7401"), .init(node: "router-2", address: "")],
        partitions: [.init(owner: 0, epoch: 1), .init(owner: 1, epoch: 3), .init(owner: nil, epoch: 0)]))),
    // A compressed frame, so the LZ4 layout is frozen too.
    ("conversationEvent-lz4", .conversationEvent(conversationID: "conv-7", sequence: 1,
                                                 body: Array(String(repeating: "where is my parcel? ", count: 30).utf8))),
]

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite struct GoldenVectorTests {
    @Test func everyMessageType_hasAGoldenVector() {
        let covered = Set(samples.map(\.message.type))
        // A membership datagram is Presence's own format after the frame header; its golden
        // vector is in PresenceTests (MembershipDatagramTests).
        #expect(covered == Set(MessageType.allCases).filter { !$0.isDatagramOnly })
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

/// Every case of the typed router protocol (commands, events, replies) has its bytes frozen
/// in Fixtures/typed-values.hex, one `kind/name hex` line each, so a change to a codec that
/// alters a byte fails here.
@Suite struct TypedGoldenVectorTests {
    static var encoded: [(key: String, hex: String, decodes: ([UInt8]) throws -> Bool)] {
        func bytes(_ write: (inout ByteWriter) -> Void) -> String {
            var writer = ByteWriter()
            write(&writer)
            return writer.bytes.hexString
        }
        func decoding<T: Equatable>(_ value: T, _ decode: @escaping (inout ByteReader) throws(WireError) -> T) -> ([UInt8]) throws -> Bool {
            { raw in
                try raw.withUnsafeBytes { buffer in
                    var reader = ByteReader(buffer)
                    let decoded = try decode(&reader)
                    return decoded == value && reader.isAtEnd
                }
            }
        }
        return TypedSamples.commands.map { sample in
            ("command/\(sample.name)", bytes { sample.command.encode(into: &$0) }, decoding(sample.command) { (r) throws(WireError) in try ClientCommand.decode(from: &r) })
        } + TypedSamples.events.map { sample in
            ("event/\(sample.name)", bytes { sample.event.encode(into: &$0) }, decoding(sample.event) { (r) throws(WireError) in try ServerEvent.decode(from: &r) })
        } + TypedSamples.replies.map { sample in
            ("reply/\(sample.name)", bytes { sample.reply.encode(into: &$0) }, decoding(sample.reply) { (r) throws(WireError) in try RouterReply.decode(from: &r) })
        }
    }

    @Test func everyCommandEventAndReplyCase_matchesItsFrozenBytes_andDecodesBack() throws {
        let file = fixtures.appendingPathComponent("typed-values.hex")
        let current = Self.encoded
        if ProcessInfo.processInfo.environment["SWITCHBOARD_RECORD_GOLDEN"] == "1" {
            try (current.map { "\($0.key) \($0.hex)" }.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        }
        var frozen: [String: String] = [:]
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            frozen[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(Set(frozen.keys) == Set(current.map(\.key)), "a case without a frozen vector, or a vector without its case")
        for value in current {
            #expect(frozen[value.key] == value.hex, "\(value.key) encodes differently")
            #expect(try value.decodes([UInt8](hexString: frozen[value.key] ?? "")), "\(value.key) does not decode to its sample")
        }
    }

    @Test func theSamples_coverEveryCase() {
        // Each sample list names each case once at least (the tags are dense from 1).
        #expect(Set(TypedSamples.commands.map { $0.command.tagForTests }).count == 32)
        #expect(Set(TypedSamples.events.map { $0.event.tagForTests }).count == 19)
        #expect(Set(TypedSamples.replies.map { $0.reply.tagForTests }).count == 11)
    }
}

extension ClientCommand { var tagForTests: UInt8 { var w = ByteWriter(); encode(into: &w); return w.bytes[0] } }
extension ServerEvent { var tagForTests: UInt8 { var w = ByteWriter(); encode(into: &w); return w.bytes[0] } }
extension RouterReply { var tagForTests: UInt8 { var w = ByteWriter(); encode(into: &w); return w.bytes[0] } }
