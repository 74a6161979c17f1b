/// What this router knows of every operator's availability and load, from the
/// `availability` messages their homes send: partitions pick candidates from it, and it
/// tells a widget whether anyone is online. On the router that keeps a home it is exact;
/// elsewhere it may be a message behind, which is why a home answers every reservation
/// itself. Picking costs O(free operators of the skill), not O(all operators).
public struct OperatorAvailability: Sendable {
    /// The latest summary of each configured operator.
    public private(set) var summaries: [OperatorID: OperatorSummary] = [:]
    /// Operators who can be offered a chat now, by site and skill.
    private var availableBySkill: [SiteSkill: Set<OperatorID>] = [:]
    /// Chat slots of operators online (chosen status online and connected), by site and skill.
    private var onlineSlots: [SiteSkill: Int] = [:]

    /// Every operator of `sites`, offline.
    public init(sites: [SiteConfiguration]) {
        for profile in sites.flatMap(\.operators) {
            summaries[profile.id] = OperatorSummary(profile: profile, available: false, online: false, load: 0, idleSince: 0)
        }
    }

    /// Takes in a home's summary if it is newer than the one held (last writer wins by the
    /// home's epoch and version). Returns false if it changed nothing.
    @discardableResult
    public mutating func update(_ summary: OperatorSummary) -> Bool {
        let id = summary.profile.id
        guard let before = summaries[id], summary.isNewer(than: before) else { return false }
        summaries[id] = summary
        guard summary.says(differently: before) else { return false }
        for skill in summary.profile.skills.keys {
            let key = SiteSkill(site: summary.profile.site, skill: skill)
            if summary.available != before.available {
                if summary.available { availableBySkill[key, default: []].insert(id) } else { availableBySkill[key]?.remove(id) }
            }
            if summary.online != before.online { onlineSlots[key, default: 0] += (summary.online ? 1 : -1) * summary.profile.maxChats }
        }
        return true
    }

    /// The operators of a site who can be offered a chat in `skill` now.
    public func available(site: SiteID, skill: Skill) -> Set<OperatorID> {
        availableBySkill[SiteSkill(site: site, skill: skill)] ?? []
    }

    /// True while an operator with this skill is online on the site: the rule that decides
    /// whether a new chat waits in the queue or becomes an offline message.
    public func anyoneOnline(site: SiteID, skill: Skill) -> Bool {
        onlineSlots[SiteSkill(site: site, skill: skill), default: 0] > 0
    }

    /// Chat slots online for a queue (for wait estimates).
    public func onlineSlots(_ queue: SiteSkill) -> Int {
        onlineSlots[queue, default: 0]
    }
}

/// The assignment policies as pure functions over operator summaries.
public enum OperatorSelection {
    /// The operator `policy` picks among `eligible` (all of whom can take the chat now).
    /// `cursor` is the last operator round-robin chose for this queue.
    public static func choose(policy: AssignmentPolicy, among eligible: [OperatorSummary], skill: Skill, after cursor: OperatorID?) -> OperatorID? {
        switch policy {
        case .leastLoaded:
            return eligible.min { leastLoadedFirst($0, $1) }?.profile.id
        case .mostProficient:
            return eligible.min { a, b in
                let (levelA, levelB) = (a.profile.level(in: skill), b.profile.level(in: skill))
                return levelA != levelB ? levelA > levelB : leastLoadedFirst(a, b)
            }?.profile.id
        case .roundRobin:
            let ids = eligible.map(\.profile.id).sorted()
            guard let cursor else { return ids.first }
            return ids.first { $0 > cursor } ?? ids.first
        }
    }

    /// Fewer chats first; among equals, the one idle longest; then by id, so ties are stable.
    static func leastLoadedFirst(_ a: OperatorSummary, _ b: OperatorSummary) -> Bool {
        (a.load, a.idleSince, a.profile.id.raw) < (b.load, b.idleSince, b.profile.id.raw)
    }
}
