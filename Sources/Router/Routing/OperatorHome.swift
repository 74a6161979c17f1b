/// An operator's home: the only place that grants reservations on that operator's
/// capacity, so capacity is never exceeded however many partitions ask at once. Pure
/// state machine: inputs are `on…` methods, outputs are `HomeAction`s.
public struct OperatorHome: Sendable {
    /// What the home asks its shell (the router core) to do.
    public enum Action: Sendable, Equatable {
        /// Answer a reservation request.
        case grant(ConversationID)
        /// Refuse a reservation request.
        case deny(ConversationID)
        /// A slot is free and the operator is online: find them the best waiting conversation.
        case pull
        /// The operator's status changed without their doing (missed offers, grace expired).
        case statusChanged(OperatorStatus, reason: String)
        /// The disconnect grace period ran out: these chats go back to the queue at the front.
        case requeue([ConversationID])
        /// Call `onGraceExpired(token:)` at this instant.
        case scheduleGrace(token: UInt64, at: Instant)
        /// Call `onPresenceGraceExpired(token:)` at this instant.
        case schedulePresenceGrace(token: UInt64, at: Instant)
    }

    /// The operator's profile.
    public private(set) var profile: OperatorProfile
    /// Chosen status.
    public private(set) var status: OperatorStatus = .offline
    /// Open console connections.
    public private(set) var connections = 0
    /// Conversations reserved: offered or active.
    public private(set) var held: Set<ConversationID> = []
    /// Slots set aside for pulls in flight.
    public private(set) var pendingPulls = 0
    /// Missed or declined offers in a row.
    public private(set) var consecutiveMisses = 0
    /// Since when the operator holds nothing.
    public private(set) var idleSince: Instant = 0
    private var graceToken: UInt64 = 0
    private var inGrace = false
    /// Still shown online after the last console went away, until the presence grace ends.
    private var inPresenceGrace = false
    private let settings: RoutingSettings

    /// A home for `profile`, offline until the operator logs in.
    public init(profile: OperatorProfile, settings: RoutingSettings) {
        self.profile = profile
        self.settings = settings
    }

    /// Free slots for new reservations.
    public var freeSlots: Int { max(0, profile.maxChats - held.count - pendingPulls) }

    /// Whether new chats may be reserved now.
    public var acceptsNewChats: Bool { status == .online && connections > 0 && freeSlots > 0 }

    /// Whether the operator counts as online for visitors: chosen status online, and a
    /// console connected or gone less than the presence grace ago.
    public var isOnline: Bool { status == .online && (connections > 0 || inPresenceGrace) }

    /// The summary published to partitions.
    public var summary: OperatorSummary {
        OperatorSummary(profile: profile, available: acceptsNewChats, online: isOnline, load: held.count, idleSince: idleSince,
                        epoch: epoch, version: version, status: status, consoles: connections)
    }

    /// When this home started (set on recovery) and how many summaries it has published since.
    public private(set) var epoch: Instant = 0
    public private(set) var version: UInt64 = 0

    /// The home (re)started at `now`.
    public mutating func started(at now: Instant) {
        epoch = now
        version = 0
    }

    /// A new summary is about to be published.
    public mutating func nextVersion() {
        version += 1
    }

    // MARK: inputs

    /// A console connection opened (login or reconnect).
    public mutating func onConnect(now: Instant) -> [Action] {
        connections += 1
        inGrace = false
        inPresenceGrace = false
        graceToken &+= 1
        if held.isEmpty { idleSince = now }
        return acceptsNewChats ? [.pull] : []
    }

    /// A console connection closed. When the last one goes, the grace period starts.
    public mutating func onDisconnect(now: Instant) -> [Action] {
        guard connections > 0 else { return [] }
        connections -= 1
        guard connections == 0 else { return [] }
        inGrace = true
        inPresenceGrace = settings.presenceGrace > 0
        graceToken &+= 1
        return [.scheduleGrace(token: graceToken, at: now + settings.disconnectGrace),
                .schedulePresenceGrace(token: graceToken, at: now + settings.presenceGrace)]
    }

    /// The presence grace ran out with no console back: the operator no longer counts as
    /// online. Ignored if they came back since.
    public mutating func onPresenceGraceExpired(token: UInt64) {
        guard inPresenceGrace, token == graceToken else { return }
        inPresenceGrace = false
    }

    /// The grace timer fired; ignored if the operator came back since.
    public mutating func onGraceExpired(token: UInt64) -> [Action] {
        guard inGrace, token == graceToken else { return [] }
        inGrace = false
        inPresenceGrace = false
        status = .offline
        var actions: [Action] = [.statusChanged(.offline, reason: "disconnected")]
        let chats = held.sorted()
        held.removeAll()
        if !chats.isEmpty { actions.append(.requeue(chats)) }
        return actions
    }

    /// The operator chose a status.
    public mutating func onSetStatus(_ newStatus: OperatorStatus) -> [Action] {
        status = newStatus
        if newStatus == .online { consecutiveMisses = 0 }
        return acceptsNewChats ? [.pull] : []
    }

    /// A partition asks to reserve one slot for `conversation`.
    public mutating func onReserve(_ conversation: ConversationID) -> [Action] {
        guard acceptsNewChats, !held.contains(conversation) else { return [.deny(conversation)] }
        held.insert(conversation)
        return [.grant(conversation)]
    }

    /// Sets a slot aside before asking a partition for a conversation (a pull). Returns
    /// false when there is none to set aside.
    public mutating func reservePullSlot() -> Bool {
        guard acceptsNewChats else { return false }
        pendingPulls += 1
        return true
    }

    /// A pull ended: with the conversation a partition offered, or nil (nothing to take).
    public mutating func onPullAnswered(_ conversation: ConversationID?) {
        pendingPulls = max(0, pendingPulls - 1)
        if let conversation { held.insert(conversation) }
    }

    /// The operator accepted an offer.
    public mutating func onAccepted(_ conversation: ConversationID) {
        if held.contains(conversation) { consecutiveMisses = 0 }
    }

    /// The operator declined or let an offer time out.
    public mutating func onMissed(_ conversation: ConversationID, now: Instant) -> [Action] {
        guard held.remove(conversation) != nil else { return [] }
        consecutiveMisses += 1
        if held.isEmpty { idleSince = now }
        if consecutiveMisses >= settings.maxConsecutiveMisses && status == .online {
            status = .away
            return [.statusChanged(.away, reason: "\(consecutiveMisses) offers missed in a row")]
        }
        return acceptsNewChats ? [.pull] : []
    }

    /// A held conversation ended, was transferred away or requeued: the slot is free.
    public mutating func onReleased(_ conversation: ConversationID, now: Instant) -> [Action] {
        guard held.remove(conversation) != nil else { return [] }
        if held.isEmpty { idleSince = now }
        return acceptsNewChats ? [.pull] : []
    }

    /// After a restart: a partition says this operator is active in `conversation`.
    public mutating func adoptActive(_ conversation: ConversationID) {
        held.insert(conversation)
    }
}
