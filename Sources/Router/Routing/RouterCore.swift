import Wire

/// One router's routing state: the partitions and operator homes it owns (`placement`),
/// and what it knows of the rest of the cluster (every partition's queue heads, every
/// operator's availability). Pure: time and messages come in, effects go out.
///
/// Partitions and homes never call each other: every exchange is a `RoutingMessage`,
/// delivered by the work list (RouterCore-exchange.swift) when its addressee is here, and
/// handed to the shell as `RouterEffect.send` when another router owns it. A router alone
/// owns everything and sends nothing.
public struct RouterCore: Sendable {
    /// Which partitions and homes are here, under which epochs.
    public internal(set) var placement: Placement
    /// Messages from other routers refused for their epochs (`Placement.refusal`) or for
    /// naming a partition past this router's count, and the last epoch refusal.
    public internal(set) var fencedMessages = 0
    public internal(set) var lastFenced: RoutingStamp.Refusal?
    /// The partitions, by index (those owned elsewhere stay empty).
    public internal(set) var partitions: [Partition]
    /// Homes of the operators this router keeps, by operator.
    public internal(set) var homes: [OperatorID: OperatorHome] = [:]
    /// Sites by id.
    public let sites: [SiteID: SiteConfiguration]
    /// Every configured operator (the same on every router).
    public let profiles: [OperatorID: OperatorProfile]
    /// Every partition's queue heads, as this router last heard them.
    public internal(set) var directory = QueueDirectory()
    /// Every operator's availability, as this router last heard it.
    public internal(set) var availability: OperatorAvailability
    /// Searches for a waiting chat in progress, by operator (homes kept here).
    var pulls: [OperatorID: PullSearch] = [:]
    var roundRobinCursor: [SiteSkill: OperatorID] = [:]
    var handleTimes: [SiteSkill: UInt64] = [:]
    var lastPositions: [ConversationID: VisitorNotice] = [:]
    /// The waiting chats' ranks of the other routers' partitions, by queue and partition
    /// (`RoutingMessage.queueRanks`), and what this router last told of its own.
    var remoteRanks: [SiteSkill: [Int: [QueueRank]]] = [:]
    var publishedRanks: [SiteSkill: [Int: [QueueRank]]] = [:]
    var rng: SplitMix64

    /// A router owning what `placement` says, serving `sites`; `seed` drives conversation ids.
    public init(placement: Placement, sites: [SiteConfiguration], seed: UInt64) {
        self.placement = placement
        let settings = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0.settings) })
        partitions = (0..<placement.partitionCount).map { Partition(index: $0, sites: settings) }
        self.sites = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0) })
        var profiles: [OperatorID: OperatorProfile] = [:]
        for site in sites {
            for profile in site.operators {
                precondition(profiles[profile.id] == nil, "operator id \(profile.id) is configured twice (ids must be unique per router)")
                profiles[profile.id] = profile
                if placement.ownsHome(of: profile.id) { homes[profile.id] = OperatorHome(profile: profile, settings: site.settings) }
            }
        }
        self.profiles = profiles
        availability = OperatorAvailability(sites: sites)
        rng = SplitMix64(seed: seed)
    }

    /// A router alone, owning all `partitionCount` partitions and every home.
    public init(partitionCount: Int, sites: [SiteConfiguration], seed: UInt64) {
        self.init(placement: Placement(partitionCount: partitionCount), sites: sites, seed: seed)
    }

    /// Number of partitions (fixed for the life of the cluster).
    public var partitionCount: Int { placement.partitionCount }

    /// The partition owning `conversation`.
    public func partitionIndex(of conversation: ConversationID) -> Int {
        placement.partition(of: conversation)
    }

    /// A conversation of a partition owned here.
    public func conversation(_ id: ConversationID) -> Conversation? {
        partitions[partitionIndex(of: id)].conversations[id]
    }

    /// What `body` makes of a conversation of a partition owned here, read in place (no copy
    /// of its events and fields: what a lookup on every message must not pay for), or nil.
    public func inspect<T>(_ id: ConversationID, _ body: (Conversation) -> T) -> T? {
        let index = partitionIndex(of: id)
        guard let position = partitions[index].conversations.index(forKey: id) else { return nil }
        return body(partitions[index].conversations.values[position])
    }

    /// The visitor's open chat on the site, if their partition is here and they have one.
    public func openConversation(site: SiteID, visitor: VisitorID) -> ConversationID? {
        partitions[placement.partition(ofVisitor: visitor, site: site)].openByVisitor[site]?[visitor]
    }

    /// The open chats of a site's visitors whose partitions are here.
    public func openConversations(site: SiteID) -> [VisitorID: ConversationID] {
        var open: [VisitorID: ConversationID] = [:]
        for index in placement.ownedPartitions { open.merge(partitions[index].openByVisitor[site] ?? [:]) { first, _ in first } }
        return open
    }

    /// True while an operator with this skill is online on the site (as far as this router knows).
    public func anyoneOnline(site: SiteID, skill: Skill) -> Bool {
        availability.anyoneOnline(site: site, skill: skill)
    }

    // MARK: visitor commands

    /// A visitor starts a chat in `department`, in their partition. If they have an open
    /// conversation on this site already, that one is returned and nothing changes.
    public mutating func startConversation(
        site siteID: SiteID, visitor: VisitorID, department: Skill, minimumLevel: Int = 1, priority: Int = 0,
        visitorProfile: [String: String] = [:], now: Instant, into effects: inout [RouterEffect]
    ) throws(RouterError) -> ConversationID {
        guard let site = sites[siteID] else { throw .unknownSite(siteID) }
        guard site.departments.contains(department) else { throw .unknownDepartment(department) }
        let index = placement.partition(ofVisitor: visitor, site: siteID)
        guard placement.owns(partition: index) else { throw .notOwner(partition: index) }
        if let open = partitions[index].openByVisitor[siteID]?[visitor] { return open }
        let id = Placement.conversationID(partition: index, random: rng.next())
        var actions: [Partition.Action] = []
        _ = partitions[index].onStart(id, site: siteID, visitor: visitor,
                                      requirement: Requirement(skill: department, minimumLevel: minimumLevel),
                                      priority: priority, visitorProfile: visitorProfile,
                                      anyoneOnline: anyoneOnline(site: siteID, skill: department),
                                      now: now, into: &actions)
        process(index, actions, now: now, &effects)
        return id
    }

    /// A chat message from the visitor. Returns its sequence number.
    public mutating func visitorSend(_ id: ConversationID, clientMessageID: String?, text: String, now: Instant,
                                     into effects: inout [RouterEffect]) throws(RouterError) -> UInt64 {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onSend(id, author: .visitor, clientMessageID: clientMessageID, text: text, now: now, into: &actions)
        }
    }

    /// A file in the chat from its visitor or its assigned operator (`author`); the bytes
    /// must already be durable in the attachment store. Returns the sequence number.
    public mutating func sendAttachment(_ id: ConversationID, author: Author, clientMessageID: String?, file: AttachmentFile, now: Instant,
                                        into effects: inout [RouterEffect]) throws(RouterError) -> UInt64 {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onSend(id, author: author, clientMessageID: clientMessageID, kind: .attachment(file), now: now, into: &actions)
        }
    }

    /// The visitor leaves.
    public mutating func visitorLeave(_ id: ConversationID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onLeave(id, now: now, into: &actions)
        }
    }

    /// The visitor rates their ended chat.
    public mutating func rate(_ id: ConversationID, rating: Rating, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onRate(id, rating: rating, into: &actions)
        }
    }

    // MARK: operator commands

    /// An operator's console connected.
    public mutating func operatorConnected(_ op: OperatorID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onHome(op, now: now, &effects) { home in home.onConnect(now: now) }
    }

    /// An operator's console disconnected.
    public mutating func operatorDisconnected(_ op: OperatorID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onHome(op, now: now, &effects) { home in home.onDisconnect(now: now) }
    }

    /// An operator sets their status.
    public mutating func setStatus(_ op: OperatorID, _ status: OperatorStatus, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onHome(op, now: now, &effects) { home in home.onSetStatus(status) }
    }

    /// An operator accepts an offer.
    public mutating func accept(_ id: ConversationID, by op: OperatorID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        guard let profile = profiles[op] else { throw .unknownOperator(op) }
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onAccept(id, by: op, displayName: profile.displayName, now: now, into: &actions)
        }
    }

    /// An operator declines an offer.
    public mutating func decline(_ id: ConversationID, by op: OperatorID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onDecline(id, by: op, now: now, into: &actions)
        }
    }

    /// An operator writes in one of their chats. Returns the sequence number.
    public mutating func operatorSend(_ id: ConversationID, by op: OperatorID, clientMessageID: String?, text: String, now: Instant,
                                      into effects: inout [RouterEffect]) throws(RouterError) -> UInt64 {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onSend(id, author: .operator(op), clientMessageID: clientMessageID, text: text, now: now, into: &actions)
        }
    }

    /// An operator ends a chat.
    public mutating func end(_ id: ConversationID, by op: OperatorID, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) {
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onEnd(id, by: op, now: now, into: &actions)
        }
    }

    /// An operator transfers a chat.
    public mutating func transfer(_ id: ConversationID, by op: OperatorID, to target: TransferTarget, note: String, now: Instant,
                                  into effects: inout [RouterEffect]) throws(RouterError) {
        if case .department(let skill) = target, let site = conversation(id)?.site, !(sites[site]?.departments.contains(skill) ?? false) {
            throw .unknownDepartment(skill)
        }
        if case .operator(let other) = target, profiles[other] == nil { throw .unknownOperator(other) }
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onTransfer(id, by: op, to: target, note: note, now: now, into: &actions)
        }
    }

    // MARK: time

    /// A timer scheduled through `RouterEffect.schedule` fired.
    public mutating func onTimer(_ timer: RouterTimer, now: Instant, into effects: inout [RouterEffect]) {
        switch timer {
        case .partition(let index, let partitionTimer):
            // A partition that moved to another router keeps its copy here, but not its timers.
            guard placement.owns(partition: index) else { return }
            var actions: [Partition.Action] = []
            partitions[index].onTimer(partitionTimer, now: now, into: &actions)
            process(index, actions, now: now, &effects)
        case .grace(let op, let token):
            try? onHome(op, now: now, &effects) { home in home.onGraceExpired(token: token) }
        case .presenceGrace(let op, let token):
            try? onHome(op, now: now, &effects) { home in
                home.onPresenceGraceExpired(token: token)
                return []
            }
        }
    }

    /// Recomputes the place in line and estimated wait of every visitor waiting in the
    /// partitions here, and tells those whose figures changed. The shell calls it about once
    /// a second: visitors need no finer updates, and doing it per assignment would cost
    /// O(waiting) each time.
    public mutating func refreshQueuePositions(into effects: inout [RouterEffect]) {
        var byQueue: [SiteSkill: [(ConversationID, QueueRank)]] = [:]
        var mine: [SiteSkill: [Int: [QueueRank]]] = [:]
        for index in placement.ownedPartitions {
            let queue = partitions[index].queue
            for key in queue.queues {
                let waiting = queue.waiting(site: key.site, skill: key.skill)
                byQueue[key, default: []] += waiting.map { ($0.conversation, $0.rank) }
                mine[key, default: [:]][index] = waiting.map(\.rank)
            }
        }
        publishRanks(mine, &effects)
        var seen: Set<ConversationID> = []
        for (queue, entries) in byQueue {
            let servers = max(1, availability.onlineSlots(queue))
            let handleTime = handleTimes[queue] ?? sites[queue.site]?.settings.initialHandleTime ?? 0
            // The other routers' waiting chats of this queue, best first: those ahead count too.
            let elsewhere = (remoteRanks[queue] ?? [:]).filter { !placement.owns(partition: $0.key) }.values.flatMap { $0 }.sorted()
            var ahead = 0
            for (offset, (id, rank)) in entries.sorted(by: { $0.1 < $1.1 }).enumerated() {
                while ahead < elsewhere.count, elsewhere[ahead] < rank { ahead += 1 }
                let position = offset + ahead + 1
                // Each position ahead costs one handle time spread over the operators who can serve.
                let notice = VisitorNotice.queued(position: position, estimatedWait: UInt64(position) * handleTime / UInt64(servers))
                seen.insert(id)
                if lastPositions[id] != notice {
                    lastPositions[id] = notice
                    effects.append(.toVisitor(id, notice))
                }
            }
        }
        lastPositions = lastPositions.filter { seen.contains($0.key) }
    }

    /// Tells the other routers the ranks waiting in each of this router's queues that
    /// changed since it last did (an emptied one as empty), best first, capped.
    mutating func publishRanks(_ mine: [SiteSkill: [Int: [QueueRank]]], _ effects: inout [RouterEffect]) {
        guard !placement.ownsEverything else { return }
        let keys = Set(mine.keys).union(publishedRanks.keys)
        for key in keys.sorted(by: { ($0.site.raw, $0.skill.raw) < ($1.site.raw, $1.skill.raw) }) {
            let now = mine[key] ?? [:], before = publishedRanks[key] ?? [:]
            // A partition that moved away is the new owner's to tell.
            for index in Set(now.keys).union(before.keys).sorted() where placement.owns(partition: index) {
                let ranks = Array((now[index] ?? []).prefix(RoutingMessage.maxRanks))
                guard ranks != before[index] ?? [] else { continue }
                effects.append(.send(.queueRanks(partition: index, key, ranks)))
            }
        }
        publishedRanks = mine.mapValues { $0.mapValues { Array($0.prefix(RoutingMessage.maxRanks)) } }
    }

    // MARK: recovery

    /// Replays one record of partition `index`'s log (on start, before anything else).
    public mutating func replay(partition index: Int, _ record: PartitionRecord) {
        partitions[index].apply(record)
    }

    /// After replay: requeue interrupted offers, schedule timers, tell the homes which chats
    /// their operators still have, and tell every router the queue heads. In a cluster, the
    /// router also asks the others to tell it everything it missed (`resync`) and tells them
    /// the same.
    public mutating func finishRecovery(now: Instant, into effects: inout [RouterEffect]) {
        // The homes start now: their summaries outrank whatever they said before a restart.
        for op in Array(homes.keys) {
            homes[op]!.started(at: now)
            availability.update(homes[op]!.summary)
        }
        for index in placement.ownedPartitions { takeUp(index, now: now, &effects) }
        guard !placement.ownsEverything else { return }
        effects.append(.send(.resync))
        var work: [Work] = []
        announce(&work, &effects)
        drain(&work, now: now, &effects)
    }

    // MARK: the partition table

    /// The committed table changed: `epochs` holds every partition's epoch, `owned` those it
    /// gives this router. A partition lost (its epoch moved on to another owner) is no
    /// longer served: commands for it are refused as `notOwner`, messages about it are
    /// refused by their epochs, and its homes leave this router. A partition gained is taken
    /// up from the copy here, as after a restart: interrupted offers go back to the queue,
    /// timers start, homes and the other routers are told. Returns what changed hands.
    public mutating func learn(epochs: [UInt64], owned: Set<Int>, now: Instant, into effects: inout [RouterEffect]) -> (gained: [Int], lost: [Int]) {
        precondition(epochs.count == partitionCount, "one epoch per partition")
        var (gained, lost): ([Int], [Int]) = ([], [])
        for index in 0..<partitionCount {
            let before = placement.owns(partition: index)
            guard placement.learn(partition: index, epoch: epochs[index], ownedHere: owned.contains(index)) else { continue }
            switch (before, placement.owns(partition: index)) {
            case (true, false): lost.append(index)
            case (false, true): gained.append(index)
            default: break
            }
        }
        guard !gained.isEmpty || !lost.isEmpty else { return ([], []) }
        let lostSet = Set(lost), gainedSet = Set(gained)
        for (op, profile) in profiles.sorted(by: { $0.key < $1.key }) {
            let home = placement.homePartition(of: op)
            if lostSet.contains(home) {
                homes[op] = nil
                pulls[op] = nil
            } else if gainedSet.contains(home), homes[op] == nil, let site = sites[profile.site] {
                homes[op] = OperatorHome(profile: profile, settings: site.settings)
                homes[op]!.started(at: now)
                availability.update(homes[op]!.summary)
                effects.append(.published(homes[op]!.summary))
            }
        }
        for index in gained { takeUp(index, now: now, &effects) }
        if !gained.isEmpty {
            var work: [Work] = []
            announce(&work, &effects)
            drain(&work, now: now, &effects)
        }
        return (gained, lost)
    }

    /// Starts serving partition `index` from what memory holds of it (a restart, or a
    /// partition the table gave this router).
    mutating func takeUp(_ index: Int, now: Instant, _ effects: inout [RouterEffect]) {
        var actions: [Partition.Action] = []
        let active = partitions[index].recover(now: now, into: &actions)
        var work = actions.map { Work.action(index, $0) }
        for (op, chats) in active.sorted(by: { $0.key < $1.key }) {
            for id in chats { route(.adopt(op, id), &work, &effects) }
        }
        drain(&work, now: now, &effects)
        publishHeads(index, &effects)
    }

    // MARK: compaction

    /// Takes the conversations that have been over for at least `closedFor` at `now` out of
    /// the partitions (for the transcript store); by default every one that is over.
    /// Changes no open conversation and emits nothing.
    public mutating func evictClosed(now: Instant = .max, closedFor: UInt64 = 0) -> [Conversation] {
        var closed: [Conversation] = []
        for index in placement.ownedPartitions { closed += partitions[index].evictClosed(now: now, closedFor: closedFor) }
        for conversation in closed { lastPositions[conversation.id] = nil }
        return closed
    }

    /// The conversations of partition `index` in memory: values, so they can be encoded as
    /// a snapshot off the loop while the core goes on.
    public func conversationsInMemory(partition index: Int) -> [Conversation] {
        Array(partitions[index].conversations.values)
    }
}
