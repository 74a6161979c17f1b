/// The waiting conversations of one partition, in lanes by site, skill and current
/// minimum level, each lane sorted by rank. Pure data structure: no clock, no IO.
public struct WaitingQueue: Sendable {
    private struct Entry: Sendable {
        var rank: QueueRank
        var conversation: ConversationID
    }

    private var lanes: [LaneKey: [Entry]] = [:]
    private var placement: [ConversationID: (lane: LaneKey, rank: QueueRank)] = [:]

    /// An empty queue.
    public init() {}

    /// How many conversations wait.
    public var count: Int { placement.count }

    /// Whether `conversation` waits here.
    public func contains(_ conversation: ConversationID) -> Bool { placement[conversation] != nil }

    /// The lane and rank of a waiting conversation.
    public func position(of conversation: ConversationID) -> (lane: LaneKey, rank: QueueRank)? { placement[conversation] }

    /// Adds a conversation (it must not be waiting already).
    public mutating func insert(_ conversation: ConversationID, lane: LaneKey, rank: QueueRank) {
        precondition(placement[conversation] == nil, "\(conversation) is already queued")
        placement[conversation] = (lane, rank)
        var entries = lanes.removeValue(forKey: lane) ?? []
        entries.insert(Entry(rank: rank, conversation: conversation), at: Self.insertionIndex(of: rank, in: entries))
        lanes[lane] = entries
    }

    /// Removes a conversation; returns its lane and rank, or nil if it was not waiting.
    @discardableResult
    public mutating func remove(_ conversation: ConversationID) -> (lane: LaneKey, rank: QueueRank)? {
        guard let (lane, rank) = placement.removeValue(forKey: conversation) else { return nil }
        var entries = lanes.removeValue(forKey: lane) ?? []
        let index = Self.insertionIndex(of: rank, in: entries)
        precondition(index < entries.count && entries[index].conversation == conversation, "queue index out of step")
        entries.remove(at: index)
        if !entries.isEmpty { lanes[lane] = entries }
        return (lane, rank)
    }

    /// Moves a waiting conversation to another lane (escalation), keeping its rank.
    public mutating func move(_ conversation: ConversationID, to lane: LaneKey) {
        guard let (_, rank) = remove(conversation) else { return }
        insert(conversation, lane: lane, rank: rank)
    }

    /// The first conversation of a lane.
    public func head(of lane: LaneKey) -> (conversation: ConversationID, rank: QueueRank)? {
        guard let first = lanes[lane]?.first else { return nil }
        return (first.conversation, first.rank)
    }

    /// The best-ranked conversation an operator with `level` in `skill` of `site` can take,
    /// skipping `excluded` (conversations the operator declined).
    public func best(site: SiteID, skill: Skill, level: Int, excluding excluded: (ConversationID) -> Bool = { _ in false })
        -> (conversation: ConversationID, rank: QueueRank)?
    {
        var best: Entry?
        for lanelevel in 1...max(1, min(5, level)) {
            guard let entries = lanes[LaneKey(site: site, skill: skill, level: lanelevel)] else { continue }
            for entry in entries where !excluded(entry.conversation) {
                if best.map({ entry.rank < $0.rank }) ?? true { best = entry }
                break
            }
        }
        return best.map { ($0.conversation, $0.rank) }
    }

    /// Every lane that has conversations, with its head rank.
    public var laneHeads: [LaneKey: QueueRank] {
        lanes.compactMapValues { $0.first?.rank }
    }

    /// All waiting conversations of a site and skill, any level, in rank order.
    public func waiting(site: SiteID, skill: Skill) -> [(conversation: ConversationID, rank: QueueRank)] {
        (1...5).flatMap { level in lanes[LaneKey(site: site, skill: skill, level: level)] ?? [] }
            .sorted { $0.rank < $1.rank }
            .map { ($0.conversation, $0.rank) }
    }

    /// Every (site, skill) that has waiting conversations.
    public var queues: Set<SiteSkill> {
        Set(lanes.keys.map { SiteSkill(site: $0.site, skill: $0.skill) })
    }

    /// First index whose rank is not below `rank` (binary search).
    private static func insertionIndex(of rank: QueueRank, in entries: [Entry]) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].rank < rank { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A site's queue for one skill (all levels).
public struct SiteSkill: Hashable, Sendable {
    /// The site.
    public var site: SiteID
    /// The skill.
    public var skill: Skill
    /// A site and skill.
    public init(site: SiteID, skill: Skill) {
        self.site = site
        self.skill = skill
    }
}
