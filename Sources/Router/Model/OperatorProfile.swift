/// The status an operator chose in the console.
public enum OperatorStatus: String, Sendable, Equatable, Codable {
    /// Takes new chats.
    case online
    /// Keeps current chats, takes no new ones.
    case away
    /// Not working.
    case offline
}

/// An operator as the site configures them.
public struct OperatorProfile: Sendable, Equatable {
    /// Their id.
    public var id: OperatorID
    /// Their site.
    public var site: SiteID
    /// The name visitors see.
    public var displayName: String
    /// Skills with proficiency 1-5.
    public var skills: [Skill: Int]
    /// How many chats they handle at once (offers included).
    public var maxChats: Int

    /// A profile; levels are clamped to 1-5, capacity to at least 1.
    public init(id: OperatorID, site: SiteID, displayName: String, skills: [Skill: Int], maxChats: Int) {
        self.id = id
        self.site = site
        self.displayName = displayName
        self.skills = skills.mapValues { min(5, max(1, $0)) }
        self.maxChats = max(1, maxChats)
    }

    /// Their proficiency in `skill`, 0 if they lack it.
    public func level(in skill: Skill) -> Int { skills[skill] ?? 0 }
}

/// What other partitions may know of an operator without asking the home: enough to pick
/// candidates. The home's answer to a reservation is the truth.
public struct OperatorSummary: Sendable, Equatable {
    /// The operator's profile.
    public var profile: OperatorProfile
    /// Online, connected and not over capacity: can be offered a chat now.
    public var available: Bool
    /// Whether they count as online for the visitor widget (chosen status online and connected).
    public var online: Bool
    /// Chats held (offered + active).
    public var load: Int
    /// Since when they have held no chat (for "longest idle").
    public var idleSince: Instant
    /// The home's start (wall time) and its count of summaries since: the newer summary of
    /// an operator wins (last writer wins, and only the home writes), so one that arrives
    /// late changes nothing, and a restarted home's new start outranks what it said before.
    public var epoch: Instant = 0
    public var version: UInt64 = 0
    /// The status they chose, and how many consoles they have connected now.
    public var status: OperatorStatus = .offline
    public var consoles = 0

    /// Chat slots free for new offers.
    public var freeSlots: Int { max(0, profile.maxChats - load) }

    /// Whether what the summary says (not its version) differs from `other`.
    public func says(differently other: OperatorSummary) -> Bool {
        routes(differently: other) || (status, consoles) != (other.status, other.consoles)
    }

    /// Whether it differs from `other` in what routing reads (availability, online, load):
    /// only such a change is sent to the other routers' partitions; the chosen status and
    /// the console count alone go out by presence gossip.
    public func routes(differently other: OperatorSummary) -> Bool {
        (available, online, load, idleSince) != (other.available, other.online, other.load, other.idleSince)
    }

    /// Whether it is newer than `other` by (epoch, version).
    public func isNewer(than other: OperatorSummary) -> Bool {
        (epoch, version) > (other.epoch, other.version)
    }
}
