import Wire

/// A presence gossip message as one UDP datagram: sealed like membership's
/// (`MembershipDatagram.seal`: a Wire frame, here type 24 `presence`, and the 16-byte tag)
/// and numbered from the same per-sender counter, so one replay window covers both.
///
/// Payload (Wire's encoding: uvarints, length-prefixed UTF-8 and bytes):
/// ```
/// u8 version (1) · string node · uvarint generation · uvarint counter
/// u8 message: 1 entries (u8 rumour, uvarint count, each: string origin node,
///                        uvarint origin generation, string key, uvarint version, bytes value)
///             2 digest  (u8 reply, uvarint count, each: string origin node,
///                        uvarint origin generation, uvarint count, 8 bytes checksum, big-endian)
/// ```
public enum PresenceDatagram {
    /// The Wire message type number (docs/wire.md).
    public static let messageType: UInt16 = 24
    static let version: UInt8 = 1

    /// The datagram for `message` from `sender`, numbered `counter`, or nil if it would not fit.
    public static func encode(_ message: PresenceMessage, from sender: MemberID, counter: UInt64, secret: [UInt8]) -> [UInt8]? {
        var w = ByteWriter(capacity: 512)
        w.writeUInt8(version)
        MembershipDatagram.writeMember(sender, &w)
        w.writeVarint(counter)
        switch message {
        case .entries(let entries, let rumour):
            w.writeUInt8(1)
            w.writeUInt8(rumour ? 1 : 0)
            w.writeVarint(UInt64(entries.count))
            for entry in entries {
                MembershipDatagram.writeMember(entry.origin, &w)
                w.writeString(entry.key)
                w.writeVarint(entry.version)
                w.writeBytes(entry.value)
            }
        case .digest(let digests, let reply):
            w.writeUInt8(2)
            w.writeUInt8(reply ? 1 : 0)
            w.writeVarint(UInt64(digests.count))
            for digest in digests {
                MembershipDatagram.writeMember(digest.origin, &w)
                w.writeVarint(UInt64(digest.count))
                w.writeUInt32(UInt32(truncatingIfNeeded: digest.checksum >> 32))
                w.writeUInt32(UInt32(truncatingIfNeeded: digest.checksum))
            }
        }
        return MembershipDatagram.seal(type: messageType, payload: w.bytes, secret: secret)
    }

    /// The message, its sender and the sender's counter, from an opened datagram's payload.
    public static func decode(payload: [UInt8]) -> Result<(message: PresenceMessage, from: MemberID, counter: UInt64), MembershipDatagram.Refusal> {
        MembershipDatagram.decodeAll(payload) { (r: inout ByteReader) throws(WireError) in
            guard try r.readUInt8() == version else { throw .invalidField("presence datagram version") }
            let sender = try MembershipDatagram.readMember(&r)
            let counter = try r.readVarint()
            let kind = try r.readUInt8()
            let flag = try r.readUInt8()
            guard flag <= 1 else { throw .invalidField("presence flag") }
            let count = try r.readVarint()
            // Every item takes at least 5 bytes: a count beyond what is left is a lie.
            guard count <= UInt64(r.remaining / 5) else { throw .invalidField("presence item count \(count)") }
            switch kind {
            case 1:
                var entries: [PresenceEntry] = []
                for _ in 0..<count {
                    entries.append(PresenceEntry(origin: try MembershipDatagram.readMember(&r), key: try r.readString(),
                                                 version: try r.readVarint(), value: try r.readBytes()))
                }
                return (.entries(entries, rumour: flag == 1), sender, counter)
            case 2:
                var digests: [OriginDigest] = []
                for _ in 0..<count {
                    let origin = try MembershipDatagram.readMember(&r)
                    let entries = try r.readVarint()
                    guard entries <= UInt64(Int.max) else { throw .invalidField("digest count") }
                    let checksum = UInt64(try r.readUInt32()) << 32 | UInt64(try r.readUInt32())
                    digests.append(OriginDigest(origin: origin, count: Int(entries), checksum: checksum))
                }
                return (.digest(digests, reply: flag == 1), sender, counter)
            default:
                throw .invalidField("presence message \(kind)")
            }
        }
    }
}
