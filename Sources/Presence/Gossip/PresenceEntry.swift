/// One value in the gossiped table: what `origin` (a router) last said about `key` (an
/// operator), under the origin's own counter. Only the origin writes its entries, so the
/// highest version of an (origin, key) is the latest word: last writer wins by
/// (origin, version). The table neither knows nor cares what the bytes mean; the router
/// puts an operator's summary there.
public struct PresenceEntry: Sendable, Equatable {
    public var origin: MemberID
    public var key: String
    public var version: UInt64
    public var value: [UInt8]

    public init(origin: MemberID, key: String, version: UInt64, value: [UInt8]) {
        (self.origin, self.key, self.version, self.value) = (origin, key, version, value)
    }

    /// Where it sits in the table and the rumour queue.
    public struct Slot: Hashable, Sendable {
        public var origin: MemberID
        public var key: String
    }

    public var slot: Slot { Slot(origin: origin, key: key) }

    /// Bytes it takes in a datagram (an upper bound, as `PresenceDatagram` writes it).
    public var encodedSize: Int { origin.node.utf8.count + key.utf8.count + value.count + 4 * 10 }
}

/// A summary of one origin's entries, for anti-entropy: two members holding the same
/// entries of an origin have the same digest of it, so only origins whose digests differ
/// are sent in full.
public struct OriginDigest: Sendable, Equatable {
    public var origin: MemberID
    public var count: Int
    /// Order-independent: the XOR of a 64-bit FNV-1a hash of each (key, version).
    public var checksum: UInt64

    public init(origin: MemberID, count: Int, checksum: UInt64) {
        (self.origin, self.count, self.checksum) = (origin, count, checksum)
    }

    /// Bytes it takes in a datagram at most: the node name and its length, generation and
    /// count as uvarints, 8 bytes of checksum.
    public var encodedSize: Int { origin.node.utf8.count + 3 * 10 + 8 }

    /// The digest of `entries` (all of one origin).
    public init<Entries: Sequence>(origin: MemberID, entries: Entries) where Entries.Element == PresenceEntry {
        var (count, checksum) = (0, UInt64(0))
        for entry in entries {
            count += 1
            checksum ^= Self.hash(entry.key, entry.version)
        }
        self.init(origin: origin, count: count, checksum: checksum)
    }

    static func hash(_ key: String, _ version: UInt64) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        for shift in stride(from: 0, to: 64, by: 8) { hash = (hash ^ ((version >> UInt64(shift)) & 0xff)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}

/// What members say to each other about the table.
public enum PresenceMessage: Sendable, Equatable {
    /// Entries: news to spread further (`rumour`), or an anti-entropy answer (not spread:
    /// the receiver is the one that missed them).
    case entries([PresenceEntry], rumour: Bool)
    /// "This is what I hold": the receiver sends back what differs, and, unless this is
    /// itself a reply, its own digest of those origins so the sender can do the same.
    case digest([OriginDigest], reply: Bool)
}
