import Wire

/// A control-plane message (a Raft envelope, in `RaftCodec`'s bytes) between routers,
/// sealed like membership's (`MembershipDatagram.seal`: a Wire frame, here type 25
/// `control`, and the 16-byte tag) and numbered from the same per-sender counter. It goes
/// as a UDP datagram when it fits, else alone on a TCP connection to the gossip port
/// (`PushPullStream`): appends with many entries, snapshots.
///
/// Payload: `u8 version (1) · string node · uvarint generation · uvarint counter · bytes body`.
public enum ControlDatagram {
    /// The Wire message type number (docs/wire.md).
    public static let messageType: UInt16 = 25
    static let version: UInt8 = 1

    /// The sealed frame, or nil if it exceeds `limit`.
    public static func encode(_ body: [UInt8], from sender: MemberID, counter: UInt64, secret: [UInt8], limit: Int) -> [UInt8]? {
        var w = ByteWriter(capacity: body.count + 32)
        w.writeUInt8(version)
        MembershipDatagram.writeMember(sender, &w)
        w.writeVarint(counter)
        w.writeBytes(body)
        return MembershipDatagram.seal(type: messageType, payload: w.bytes, secret: secret, limit: limit)
    }

    /// The body, its sender and the sender's counter, from an opened frame's payload.
    public static func decode(payload: [UInt8]) -> Result<(body: [UInt8], from: MemberID, counter: UInt64), MembershipDatagram.Refusal> {
        MembershipDatagram.decodeAll(payload) { (r: inout ByteReader) throws(WireError) in
            guard try r.readUInt8() == version else { throw .invalidField("control datagram version") }
            let sender = try MembershipDatagram.readMember(&r)
            let counter = try r.readVarint()
            return (try r.readBytes(), sender, counter)
        }
    }
}
