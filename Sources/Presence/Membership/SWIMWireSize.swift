/// How many bytes a SWIM envelope takes on the wire, to budget datagrams and count gossip
/// traffic: the Wire frame header (12), the 16-byte HMAC tag, the sender, the message and
/// its updates (`encodedSize`).
public enum SWIMWireSize {
    public static func estimate(_ envelope: SWIMEnvelope) -> Int {
        let header = 12 + 16 + envelope.from.node.utf8.count + envelope.fromAddress.utf8.count + 6
        let body: Int = switch envelope.message {
        case .ping(_, let target): 8 + target.node.utf8.count
        case .ack, .nack: 6
        case .gossip: 1
        case .pingRequest(_, let target, let address): 8 + target.node.utf8.count + address.utf8.count
        case .pushPull(let table, _): 4 + table.reduce(0) { $0 + encodedSize($1) }
        }
        return header + body + envelope.gossip.reduce(0) { $0 + encodedSize($1) }
    }
}
