import Wire

/// Operator presence spread by gossip, as a pure state machine beside `SWIMInstance`: each
/// router publishes entries under its own member id (its operators' summaries), every
/// router holds the latest entry of each (origin, key), and news travels two ways:
/// - rumours: a new entry is sent each gossip period to `gossipFanout` random members, a
///   bounded number of times (`retransmitLimit`, as for membership), and every member that
///   learns it from a rumour spreads it the same way, so it reaches everyone in about
///   log N periods;
/// - anti-entropy: every `presenceSyncInterval` a member sends one random member a digest
///   of each origin's entries, and the two swap the origins whose digests differ, so a
///   rumour lost everywhere (or a member that was away) is healed.
///
/// Membership drives it: members alive or suspect are gossiped to; a member gone (dead or
/// left) has its entries forgotten (its operators are no longer served there) and any
/// late rumour of them refused. Time and randomness come in from outside.
public struct PresenceGossip: Sendable {
    public enum Directive: Sendable, Equatable {
        case send(PresenceMessage, to: MemberID, address: String)
        case schedule(Timer, at: UInt64)
        /// An entry of another origin is new here (its value replaces the origin's older one).
        case learned(PresenceEntry)
        /// A member is gone: these were its entries, now forgotten.
        case forgotten([PresenceEntry])
    }

    public enum Timer: Sendable, Hashable {
        case gossip
        case sync
    }

    public let me: MemberID
    public let settings: SWIMSettings
    /// Every origin's latest entries, this member's own included.
    public private(set) var table: [MemberID: [String: PresenceEntry]] = [:]
    /// Members to gossip with, and their addresses.
    public private(set) var peers: [MemberID: String] = [:]
    /// Origins gone for good: their rumours are refused.
    private var gone: Set<MemberID> = []
    private var version: UInt64 = 0
    private var rumours = BroadcastQueue<PresenceEntry.Slot, PresenceEntry>()
    private var random: SplitMix64

    public init(me: MemberID, settings: SWIMSettings, seed: UInt64) {
        (self.me, self.settings, self.random) = (me, settings, SplitMix64(seed: seed))
    }

    /// Largest value an entry may carry: it must fit one datagram with room to spare.
    public static let maxValueBytes = 600

    /// Sets the periodic timers going.
    public func start(now: UInt64) -> [Directive] {
        [.schedule(.gossip, at: now + settings.gossipInterval), .schedule(.sync, at: now + settings.presenceSyncInterval)]
    }

    /// Publishes this member's `value` for `key` (it goes out with the next gossip period).
    /// Returns false, changing nothing, for a value too large to gossip.
    @discardableResult
    public mutating func publish(key: String, value: [UInt8]) -> Bool {
        guard value.count <= Self.maxValueBytes else { return false }
        guard table[me]?[key]?.value != value else { return true }
        version += 1
        let entry = PresenceEntry(origin: me, key: key, version: version, value: value)
        table[me, default: [:]][key] = entry
        rumours.enqueue(entry, about: entry.slot)
        return true
    }

    /// What membership believes of a member changed.
    public mutating func onMemberChanged(_ member: MemberID, status: MemberStatus, address: String) -> [Directive] {
        guard member != me else { return [] }
        guard status.isGone else {
            peers[member] = address
            return []
        }
        peers[member] = nil
        gone.insert(member)
        rumours.removeAll { $0.origin == member }
        guard let entries = table.removeValue(forKey: member) else { return [] }
        return [.forgotten(entries.values.sorted { $0.key < $1.key })]
    }

    public mutating func onTimer(_ timer: Timer, now: UInt64) -> [Directive] {
        switch timer {
        case .gossip:
            var directives = spreadRumours()
            directives.append(.schedule(.gossip, at: now + settings.gossipInterval))
            return directives
        case .sync:
            var directives: [Directive] = []
            if let (peer, address) = randomPeers(1).first {
                for part in grouped(digests(of: Array(table.keys)), size: \.encodedSize) {
                    directives.append(.send(.digest(part, reply: false), to: peer, address: address))
                }
            }
            directives.append(.schedule(.sync, at: now + settings.presenceSyncInterval))
            return directives
        }
    }

    public mutating func onMessage(_ message: PresenceMessage, from sender: MemberID, address: String, now: UInt64) -> [Directive] {
        switch message {
        case .entries(let entries, let rumour):
            return entries.compactMap { merge($0, spread: rumour) }
        case .digest(let theirs, let reply):
            // Only the origins listed: a digest may be one part of several. An origin the sender
            // lacks altogether is found when this member's own digest reaches it (it then
            // answers with an empty digest of that origin, and gets its entries).
            let listed = Array(Set(theirs.map(\.origin)))
            let mine = Dictionary(uniqueKeysWithValues: digests(of: listed).map { ($0.origin, $0) })
            let differing = Set(theirs.filter { mine[$0.origin] != $0 }.map(\.origin)).subtracting(gone)
            guard !differing.isEmpty else { return [] }
            let ordered = differing.sorted()
            var directives = grouped(ordered.flatMap { table[$0]?.values.sorted { $0.key < $1.key } ?? [] }, size: \.encodedSize).map {
                Directive.send(.entries($0, rumour: false), to: sender, address: address)
            }
            if !reply {
                for part in grouped(digests(of: ordered), size: \.encodedSize) { directives.append(.send(.digest(part, reply: true), to: sender, address: address)) }
            }
            return directives
        }
    }

    // MARK: internals

    /// Takes in `entry` if it is newer than what is held of its (origin, key).
    private mutating func merge(_ entry: PresenceEntry, spread: Bool) -> Directive? {
        // Only the origin writes its entries: what others say of this member's own is old news.
        guard entry.origin != me, !gone.contains(entry.origin), entry.value.count <= Self.maxValueBytes else { return nil }
        if let held = table[entry.origin]?[entry.key], held.version >= entry.version { return nil }
        table[entry.origin, default: [:]][entry.key] = entry
        if spread { rumours.enqueue(entry, about: entry.slot) }
        return .learned(entry)
    }

    /// One message of rumours to each of `gossipFanout` random peers, each taking its own
    /// share of the queue (as memberlist does), so a rumour's sends are counted per copy.
    private mutating func spreadRumours() -> [Directive] {
        guard rumours.count > 0 else { return [] }
        let limit = settings.retransmitLimit(members: peers.count + 1)
        return randomPeers(settings.gossipFanout).compactMap { peer, address in
            let taken = rumours.take(budget: settings.gossipBudgetBytes, limit: limit) { $0.encodedSize }
            return taken.isEmpty ? nil : .send(.entries(taken, rumour: true), to: peer, address: address)
        }
    }

    private func digests(of origins: [MemberID]) -> [OriginDigest] {
        origins.sorted().map { OriginDigest(origin: $0, entries: Array(table[$0]?.values ?? [String: PresenceEntry]().values)) }
    }

    /// `items` in groups of at most the gossip budget's bytes, in order (one item over the
    /// budget goes alone).
    private func grouped<Item>(_ items: [Item], size: (Item) -> Int) -> [[Item]] {
        var groups: [[Item]] = []
        var used = 0
        for item in items {
            if groups.isEmpty || used + size(item) > settings.gossipBudgetBytes {
                groups.append([])
                used = 0
            }
            groups[groups.count - 1].append(item)
            used += size(item)
        }
        return groups
    }

    /// Up to `count` distinct peers, chosen at random (sorted first, so a seed replays).
    private mutating func randomPeers(_ count: Int) -> [(MemberID, String)] {
        var candidates = peers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var chosen: [(MemberID, String)] = []
        while chosen.count < count, !candidates.isEmpty {
            chosen.append(candidates.remove(at: Int(random.next() % UInt64(candidates.count))))
        }
        return chosen
    }
}
