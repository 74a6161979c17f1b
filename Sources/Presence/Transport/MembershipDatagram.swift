import Wire

/// A SWIM envelope as one UDP datagram: a Wire frame (type 23, `membership`) whose payload
/// is the envelope in binary, then a 16-byte tag, the first half of HMAC-SHA256 over the
/// frame with the cluster secret. Each sender numbers its datagrams; `ReplayWindow` refuses
/// a number seen before (or too old), so a captured datagram cannot be played again.
///
/// Payload (Wire's encoding: uvarints, length-prefixed UTF-8):
/// ```
/// u8 version (1) · string node · uvarint generation · string address · uvarint counter
/// u8 message: 1 ping (uvarint seq, member) · 2 pingRequest (uvarint seq, member, string address)
///             3 ack (uvarint seq) · 4 nack (uvarint seq) · 5 gossip · 6 pushPull (u8 reply, updates)
/// updates: uvarint count, each: member (string node, uvarint generation), string address,
///          u8 status, uvarint incarnation, u8 0 | 1 + member (suspected by)
/// ```
/// Anything that fails the size, the tag, the replay window or the decoder is dropped (and
/// counted by the shell); nothing in it is trusted before the tag is checked.
public enum MembershipDatagram {
    /// The Wire message type number (docs/wire.md).
    public static let messageType: UInt16 = 23
    /// Largest datagram sent or accepted: under a 1,500-byte Ethernet MTU with IP and UDP headers.
    public static let maxBytes = 1_400
    /// Bytes of the truncated HMAC-SHA256 tag.
    public static let tagBytes = 16
    static let version: UInt8 = 1

    /// The datagram for `envelope`, numbered `counter`, or nil if it would not fit in
    /// `limit` bytes (a datagram's by default; a push-pull over TCP may be larger).
    public static func encode(_ envelope: SWIMEnvelope, counter: UInt64, secret: [UInt8], limit: Int = maxBytes) -> [UInt8]? {
        var payload = ByteWriter(capacity: 512)
        payload.writeUInt8(version)
        writeMember(envelope.from, &payload)
        payload.writeString(envelope.fromAddress)
        payload.writeVarint(counter)
        switch envelope.message {
        case .ping(let sequence, let target): payload.writeUInt8(1); payload.writeVarint(sequence); writeMember(target, &payload)
        case .pingRequest(let sequence, let target, let address):
            payload.writeUInt8(2); payload.writeVarint(sequence); writeMember(target, &payload); payload.writeString(address)
        case .ack(let sequence): payload.writeUInt8(3); payload.writeVarint(sequence)
        case .nack(let sequence): payload.writeUInt8(4); payload.writeVarint(sequence)
        case .gossip: payload.writeUInt8(5)
        case .pushPull(let table, let reply):
            payload.writeUInt8(6); payload.writeUInt8(reply ? 1 : 0); writeUpdates(table, &payload)
        }
        writeUpdates(envelope.gossip, &payload)
        return seal(type: messageType, payload: payload.bytes, secret: secret, limit: limit)
    }

    /// A datagram of Wire frame `type` around `payload`, tagged, or nil if it would not fit.
    /// Membership (type 23) and presence gossip (type 24) share it.
    static func seal(type: UInt16, payload: [UInt8], secret: [UInt8], limit: Int = maxBytes) -> [UInt8]? {
        var frame = ByteWriter(capacity: FrameHeader.size + payload.count + tagBytes)
        FrameHeader(type: type, payloadLength: UInt32(payload.count), correlationID: 0).write(into: &frame)
        frame.writeRaw(payload)
        frame.writeRaw(Array(HMACSHA256.authenticate(message: frame.bytes, key: secret).prefix(tagBytes)))
        return frame.count <= limit ? frame.bytes : nil
    }

    /// Why a datagram was dropped.
    public enum Refusal: Error, Equatable, Sendable {
        case size, tag, frame, malformed(String)
    }

    /// The envelope and the sender's counter in `bytes`, once its tag is right.
    public static func decode(_ bytes: [UInt8], secret: [UInt8], limit: Int = maxBytes) -> Result<(envelope: SWIMEnvelope, counter: UInt64), Refusal> {
        open(bytes, secret: secret, limit: limit).flatMap { type, payload in
            type == messageType ? decode(payload: payload) : .failure(.frame)
        }
    }

    /// The frame type and payload of a datagram whose size, tag and frame header are right.
    public static func open(_ bytes: [UInt8], secret: [UInt8], limit: Int = maxBytes) -> Result<(type: UInt16, payload: [UInt8]), Refusal> {
        guard bytes.count >= FrameHeader.size + tagBytes, bytes.count <= limit else { return .failure(.size) }
        let frame = Array(bytes[..<(bytes.count - tagBytes)])
        let expected = Array(HMACSHA256.authenticate(message: frame, key: secret).prefix(tagBytes))
        guard HMACSHA256.constantTimeEquals(expected, Array(bytes[(bytes.count - tagBytes)...])) else { return .failure(.tag) }
        let header: FrameHeader?
        do {
            header = try frame.withUnsafeBytes { try FrameHeader.parse($0, limits: FrameLimits(maxFrameSize: limit, maxDecompressedSize: limit)) }
        } catch {
            return .failure(.frame)
        }
        guard let header, [messageType, PresenceDatagram.messageType, ControlDatagram.messageType].contains(header.type), header.flags.isEmpty,
              Int(header.payloadLength) == frame.count - FrameHeader.size else { return .failure(.frame) }
        return .success((header.type, Array(frame[FrameHeader.size...])))
    }

    /// A SWIM envelope's payload (the frame's inside).
    public static func decode(payload: [UInt8]) -> Result<(envelope: SWIMEnvelope, counter: UInt64), Refusal> {
        decodeAll(payload, decodePayload)
    }

    /// Runs `body` over all of `payload`: it must read every byte; a decoder error is `malformed`.
    static func decodeAll<T>(_ payload: [UInt8], _ body: (inout ByteReader) throws(WireError) -> T) -> Result<T, Refusal> {
        do throws(WireError) {
            return .success(try ByteReader.decodeAll(payload, body))
        } catch {
            return .failure(.malformed(error.message))
        }
    }

    private static func decodePayload(_ r: inout ByteReader) throws(WireError) -> (envelope: SWIMEnvelope, counter: UInt64) {
        guard try r.readUInt8() == version else { throw .invalidField("membership datagram version") }
        let from = try readMember(&r)
        let address = try r.readString()
        let counter = try r.readVarint()
        let message: SWIMMessage
        switch try r.readUInt8() {
        case 1: message = .ping(sequence: try r.readVarint(), target: try readMember(&r))
        case 2: message = .pingRequest(sequence: try r.readVarint(), target: try readMember(&r), targetAddress: try r.readString())
        case 3: message = .ack(sequence: try r.readVarint())
        case 4: message = .nack(sequence: try r.readVarint())
        case 5: message = .gossip
        case 6:
            let reply = try r.readUInt8()
            guard reply <= 1 else { throw .invalidField("push-pull reply flag") }
            message = .pushPull(table: try readUpdates(&r), reply: reply == 1)
        case let tag: throw .invalidField("membership message \(tag)")
        }
        return (SWIMEnvelope(from: from, fromAddress: address, message: message, gossip: try readUpdates(&r)), counter)
    }

    static func writeMember(_ member: MemberID, _ w: inout ByteWriter) {
        w.writeString(member.node)
        w.writeVarint(member.generation)
    }

    static func readMember(_ r: inout ByteReader) throws(WireError) -> MemberID {
        MemberID(node: try r.readString(), generation: try r.readVarint())
    }

    private static func writeUpdates(_ updates: [MembershipUpdate], _ w: inout ByteWriter) {
        w.writeVarint(UInt64(updates.count))
        for update in updates {
            writeMember(update.member, &w)
            w.writeString(update.address)
            w.writeUInt8(update.status.rawValue)
            w.writeVarint(update.incarnation)
            if let by = update.suspectedBy {
                w.writeUInt8(1)
                writeMember(by, &w)
            } else {
                w.writeUInt8(0)
            }
        }
    }

    private static func readUpdates(_ r: inout ByteReader) throws(WireError) -> [MembershipUpdate] {
        let count = try r.readVarint()
        // Each update takes at least 6 bytes: a count beyond what is left is a lie.
        guard count <= UInt64(r.remaining / 6) else { throw .invalidField("update count \(count)") }
        var updates: [MembershipUpdate] = []
        updates.reserveCapacity(Int(count))
        for _ in 0..<count {
            let member = try readMember(&r)
            let address = try r.readString()
            guard let status = MemberStatus(rawValue: try r.readUInt8()) else { throw .invalidField("member status") }
            let incarnation = try r.readVarint()
            let suspectedBy: MemberID?
            switch try r.readUInt8() {
            case 0: suspectedBy = nil
            case 1: suspectedBy = try readMember(&r)
            default: throw .invalidField("suspected-by flag")
            }
            updates.append(MembershipUpdate(member: member, address: address, status: status, incarnation: incarnation, suspectedBy: suspectedBy))
        }
        return updates
    }
}

/// Which datagram numbers of each sender were accepted: the highest, and a 64-wide window
/// below it (as IPsec's anti-replay window, RFC 4303 3.4.3). A number seen before, or more
/// than 64 below the highest, is a replay (or too late to matter) and refused.
public struct ReplayWindow: Sendable {
    private var highest: [MemberID: (top: UInt64, seen: UInt64)] = [:]

    public init() {}

    /// Whether datagram `counter` of `sender` is new; if so it is remembered.
    public mutating func accept(_ counter: UInt64, from sender: MemberID) -> Bool {
        guard let (top, seen) = highest[sender] else {
            highest[sender] = (counter, 1)
            return true
        }
        if counter > top {
            let shift = counter - top
            highest[sender] = (counter, shift >= 64 ? 1 : (seen << shift) | 1)
            return true
        }
        let offset = top - counter
        guard offset < 64, seen & (1 << offset) == 0 else { return false }
        highest[sender] = (top, seen | (1 << offset))
        return true
    }

    /// Forgets a sender that is gone (its generation will never speak again).
    public mutating func forget(_ sender: MemberID) {
        highest[sender] = nil
    }
}
