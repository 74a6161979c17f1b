/// What members send each other over UDP: a probe, a request to probe on one's behalf, an
/// ack, a nack, or updates alone; each carries the sender and piggybacked updates. Full
/// table exchanges (`pushPull`) and joins go over TCP.
public struct SWIMEnvelope: Sendable, Equatable {
    public var from: MemberID
    /// Where the sender listens (a joining member is not in the table yet).
    public var fromAddress: String
    public var message: SWIMMessage
    public var gossip: [MembershipUpdate]

    public init(from: MemberID, fromAddress: String, message: SWIMMessage, gossip: [MembershipUpdate]) {
        (self.from, self.fromAddress, self.message, self.gossip) = (from, fromAddress, message, gossip)
    }
}

/// The messages of the protocol.
///
/// ONLY APPEND TO THIS LIST: the numeric tags are part of the protocol.
public enum SWIMMessage: Sendable, Equatable {
    /// Are you there, `target`? (tag 1) Only the member named answers: a router restarted
    /// on the same address is another generation, and must not answer for the one that died.
    case ping(sequence: UInt64, target: MemberID)
    /// Probe `target` for me and answer with its ack, or a nack if it says nothing (tag 2).
    case pingRequest(sequence: UInt64, target: MemberID, targetAddress: String)
    /// Yes (tag 3), for the ping or ping request with this sequence number.
    case ack(sequence: UInt64)
    /// The target of a ping request did not answer in time (tag 4): the intermediary is
    /// alive, so the origin's own health is not to blame (Lifeguard).
    case nack(sequence: UInt64)
    /// Updates only (tag 5): the periodic gossip and a leaving member's goodbye.
    case gossip
    /// The whole table (tag 6, over TCP): a join, or the periodic anti-entropy exchange;
    /// `reply` says whether it answers one.
    case pushPull(table: [MembershipUpdate], reply: Bool)
}

/// A rough size of an update as encoded, for the datagram budget: ids, address and a few
/// varints.
public func encodedSize(_ update: MembershipUpdate) -> Int {
    update.member.node.utf8.count + update.address.utf8.count + (update.suspectedBy.map { $0.node.utf8.count + 10 } ?? 1) + 24
}
