import Foundation
import Presence
import Testing
import Wire

@Suite struct MembershipDatagramTests {
    static let secret = Array("cluster secret".utf8)
    static let a = MemberID(node: "router-a", generation: 3), b = MemberID(node: "router-b", generation: 1)
    static let samples: [SWIMEnvelope] = {
        let gossip = [MembershipUpdate(member: b, address: "10.0.0.2:7946", status: .suspect, incarnation: 4, suspectedBy: a),
                      MembershipUpdate(member: a, address: "10.0.0.1:7946", status: .alive, incarnation: 7)]
        let messages: [SWIMMessage] = [.ping(sequence: 1, target: b), .pingRequest(sequence: 2, target: b, targetAddress: "10.0.0.2:7946"),
                                       .ack(sequence: 300), .nack(sequence: 4), .gossip, .pushPull(table: gossip, reply: true)]
        return messages.map { SWIMEnvelope(from: a, fromAddress: "10.0.0.1:7946", message: $0, gossip: gossip) }
    }()

    @Test func everyMessage_roundTrips() throws {
        for (index, envelope) in Self.samples.enumerated() {
            let bytes = try #require(MembershipDatagram.encode(envelope, counter: UInt64(index + 1), secret: Self.secret))
            #expect(bytes.count <= MembershipDatagram.maxBytes)
            let decoded = try MembershipDatagram.decode(bytes, secret: Self.secret).get()
            #expect(decoded.envelope == envelope && decoded.counter == UInt64(index + 1))
        }
    }

    @Test func aWrongSecret_aFlippedBit_aCutOrAPaddedDatagram_isRefused() throws {
        let bytes = try #require(MembershipDatagram.encode(Self.samples[5], counter: 9, secret: Self.secret))
        #expect(MembershipDatagram.decode(bytes, secret: Array("other".utf8)).failure == .tag)
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] ^= 0x01
            #expect(MembershipDatagram.decode(flipped, secret: Self.secret).failure == .tag, "bit flipped in byte \(index)")
        }
        for cut in [0, 10, 27, bytes.count - 1] {
            #expect(MembershipDatagram.decode(Array(bytes.prefix(cut)), secret: Self.secret).failure != nil)
        }
        #expect(MembershipDatagram.decode(bytes + [0], secret: Self.secret).failure == .tag)
        #expect(MembershipDatagram.decode([UInt8](repeating: 1, count: 2000), secret: Self.secret).failure == .size)
    }

    @Test func aSignedButMalformedPayload_isRefusedWithoutCrashing() throws {
        // Someone holding the secret (a buggy build) sends garbage: the tag passes, the decoder refuses.
        var rng = SplitMix64(seed: 5)
        for _ in 0..<300 {
            let payload = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var frame = ByteWriter()
            FrameHeader(type: MembershipDatagram.messageType, payloadLength: UInt32(payload.count), correlationID: 0).write(into: &frame)
            frame.writeRaw(payload)
            let signed = frame.bytes + Array(HMACSHA256.authenticate(message: frame.bytes, key: Self.secret).prefix(16))
            switch MembershipDatagram.decode(signed, secret: Self.secret) {
            case .failure(let refusal): #expect(refusal != .tag)
            case .success: break  // random bytes may happen to be a valid message
            }
        }
    }

    @Test func tooBigATable_doesNotFitOneDatagram() {
        let table = (0..<100).map { MembershipUpdate(member: MemberID(node: "router-\($0)", generation: 1), address: "10.0.0.\($0):7946",
                                                     status: .alive, incarnation: 0) }
        let envelope = SWIMEnvelope(from: Self.a, fromAddress: "10.0.0.1:7946", message: .pushPull(table: table, reply: false), gossip: [])
        #expect(MembershipDatagram.encode(envelope, counter: 1, secret: Self.secret) == nil)
    }

    @Test func theReplayWindow_takesEachNumberOnce_andNothingTooOld() {
        var window = ReplayWindow()
        let steps: [(UInt64, MemberID, Bool, String)] = [
            (10, Self.a, true, "first"), (10, Self.a, false, "the same datagram again"), (8, Self.a, true, "late but new"),
            (8, Self.a, false, "late and seen"), (100, Self.a, true, "far ahead"), (36, Self.a, false, "64 or more below the newest"),
            (37, Self.a, true, "63 below"), (10, Self.b, true, "each sender has its own numbers"),
        ]
        for (counter, sender, expected, why) in steps {
            let accepted = window.accept(counter, from: sender)
            #expect(accepted == expected, "\(why)")
        }
        window.forget(Self.a)
        let afresh = window.accept(10, from: Self.a)
        #expect(afresh, "a forgotten sender starts afresh")
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}

@Suite struct MembershipDatagramGoldenVectorTests {
    /// A ping from router-a#3 to router-b#1 with one suspicion piggybacked, datagram number 5, secret
    /// "cluster secret": the format is frozen (docs/wire.md, message type 23).
    static let golden = "010000170000004c000000000108726f757465722d61030d31302e302e302e313a3739343605012a08726f757465722d62010108726f757465722d62010d31302e302e302e323a3739343601040108726f757465722d6103a11b6bf82d3f3e131328618cc755c22f"

    @Test func aPing_encodesToTheFrozenBytes_andBack() throws {
        let envelope = SWIMEnvelope(from: MembershipDatagramTests.a, fromAddress: "10.0.0.1:7946", message: .ping(sequence: 42, target: MembershipDatagramTests.b),
                                    gossip: [MembershipUpdate(member: MembershipDatagramTests.b, address: "10.0.0.2:7946", status: .suspect,
                                                              incarnation: 4, suspectedBy: MembershipDatagramTests.a)])
        let bytes = try #require(MembershipDatagram.encode(envelope, counter: 5, secret: MembershipDatagramTests.secret))
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        #expect(hex == Self.golden)
        let decoded = try MembershipDatagram.decode(bytes, secret: MembershipDatagramTests.secret).get()
        #expect(decoded.envelope == envelope && decoded.counter == 5)
    }
}
