import Wire

/// A site as the router knows it: routing rules, departments, operators.
public struct SiteConfiguration: Sendable, Equatable {
    /// The site id.
    public var id: SiteID
    /// Its departments (each one a skill).
    public var departments: Set<Skill>
    /// Its operators.
    public var operators: [OperatorProfile]
    /// Its routing rules.
    public var settings: RoutingSettings

    /// A site.
    public init(id: SiteID, departments: Set<Skill>, operators: [OperatorProfile], settings: RoutingSettings = RoutingSettings()) {
        self.id = id
        self.departments = departments
        self.operators = operators
        self.settings = settings
    }
}

/// What the router core asks its shell to do.
public enum RouterEffect: Sendable, Equatable {
    /// Append `record` to partition `partition`'s log; hold every later effect until it is durable.
    case persist(partition: Int, PartitionRecord)
    /// Deliver to the visitor of a conversation.
    case toVisitor(ConversationID, VisitorNotice)
    /// Deliver to an operator.
    case toOperator(OperatorID, OperatorNotice)
    /// Call `onTimer` with this timer at this instant.
    case schedule(RouterTimer, at: Instant)
}

/// Timers of the router core.
public enum RouterTimer: Sendable, Equatable, Hashable {
    /// A partition's timer.
    case partition(Int, Partition.PartitionTimer)
    /// An operator's disconnect grace period.
    case grace(OperatorID, token: UInt64)
}

/// One router's routing state: its partitions, the homes of its operators and the queue
/// directory, exchanging messages in memory. Pure: time comes in, effects go out.
///
/// Partitions and homes never call each other: every exchange goes through the work list
/// in `process`, as it would go over Wire between routers.
public struct RouterCore: Sendable {
    /// Number of partitions (fixed for the life of the cluster).
    public let partitionCount: Int
    /// The partitions, by index.
    public private(set) var partitions: [Partition]
    /// Operator homes, by operator.
    public private(set) var homes: [OperatorID: OperatorHome] = [:]
    /// Sites by id.
    public let sites: [SiteID: SiteConfiguration]
    /// The open conversation of each visitor, by site.
    public private(set) var openByVisitor: [SiteID: [VisitorID: ConversationID]] = [:]
    /// The queue heads of all partitions, as operators' homes see them.
    public private(set) var directory = QueueDirectory()
    /// Operators who can be offered a chat now, by site and skill: candidates are picked
    /// from here, so a decision costs O(free operators), not O(all operators).
    private var availableBySkill: [SiteSkill: Set<OperatorID>] = [:]
    /// Chat slots of operators online (chosen status and connected), by site and skill.
    private var onlineSlots: [SiteSkill: Int] = [:]
    /// What the two indexes above last counted for each operator.
    private var indexed: [OperatorID: (available: Bool, online: Bool)] = [:]
    private var roundRobinCursor: [SiteSkill: OperatorID] = [:]
    private var handleTimes: [SiteSkill: UInt64] = [:]
    private var lastPositions: [ConversationID: VisitorNotice] = [:]
    private var rng: SplitMix64

    /// A router serving `sites`, with `partitionCount` partitions; `seed` drives conversation ids.
    public init(partitionCount: Int, sites: [SiteConfiguration], seed: UInt64) {
        precondition(partitionCount > 0, "need at least one partition")
        self.partitionCount = partitionCount
        let settings = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0.settings) })
        partitions = (0..<partitionCount).map { Partition(index: $0, sites: settings) }
        self.sites = Dictionary(uniqueKeysWithValues: sites.map { ($0.id, $0) })
        for site in sites {
            for profile in site.operators {
                precondition(homes[profile.id] == nil, "operator id \(profile.id) is configured twice (ids must be unique per router)")
                homes[profile.id] = OperatorHome(profile: profile, settings: site.settings)
            }
        }
        rng = SplitMix64(seed: seed)
    }

    /// The partition owning `conversation`.
    public func partitionIndex(of conversation: ConversationID) -> Int {
        PartitionHash.partition(of: conversation, count: partitionCount)
    }

    /// A conversation, wherever it is.
    public func conversation(_ id: ConversationID) -> Conversation? {
        partitions[partitionIndex(of: id)].conversations[id]
    }

    // MARK: visitor commands

    /// A visitor starts a chat in `department`. If they have an open conversation on this
    /// site already, that one is returned and nothing changes.
    public mutating func startConversation(
        site siteID: SiteID, visitor: VisitorID, department: Skill, minimumLevel: Int = 1, priority: Int = 0,
        visitorProfile: [String: String] = [:], now: Instant, into effects: inout [RouterEffect]
    ) throws(RouterError) -> ConversationID {
        guard let site = sites[siteID] else { throw .unknownSite(siteID) }
        guard site.departments.contains(department) else { throw .unknownDepartment(department) }
        if let open = openByVisitor[siteID]?[visitor] { return open }
        let id = ConversationID("c" + String(rng.next(), radix: 16))
        let index = partitionIndex(of: id)
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
        guard let home = homes[op] else { throw .unknownOperator(op) }
        let name = home.profile.displayName
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onAccept(id, by: op, displayName: name, now: now, into: &actions)
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
        if case .operator(let other) = target, homes[other] == nil { throw .unknownOperator(other) }
        try onPartition(of: id, now: now, &effects) { (partition, actions) throws(RouterError) in
            try partition.onTransfer(id, by: op, to: target, note: note, now: now, into: &actions)
        }
    }

    // MARK: time

    /// A timer scheduled through `RouterEffect.schedule` fired.
    public mutating func onTimer(_ timer: RouterTimer, now: Instant, into effects: inout [RouterEffect]) {
        switch timer {
        case .partition(let index, let partitionTimer):
            var actions: [Partition.Action] = []
            partitions[index].onTimer(partitionTimer, now: now, into: &actions)
            process(index, actions, now: now, &effects)
        case .grace(let op, let token):
            try? onHome(op, now: now, &effects) { home in home.onGraceExpired(token: token) }
        }
    }

    /// Recomputes every waiting visitor's place in line and estimated wait, and tells those
    /// whose figures changed. The shell calls it about once a second: visitors need no
    /// finer updates, and doing it per assignment would cost O(waiting) each time.
    public mutating func refreshQueuePositions(into effects: inout [RouterEffect]) {
        var byQueue: [SiteSkill: [(ConversationID, QueueRank)]] = [:]
        for partition in partitions {
            for queue in partition.queue.queues {
                byQueue[queue, default: []] += partition.queue.waiting(site: queue.site, skill: queue.skill).map { ($0.conversation, $0.rank) }
            }
        }
        var seen: Set<ConversationID> = []
        for (queue, entries) in byQueue {
            let servers = max(1, serverCount(queue))
            let handleTime = handleTimes[queue] ?? sites[queue.site]?.settings.initialHandleTime ?? 0
            for (offset, (id, _)) in entries.sorted(by: { $0.1 < $1.1 }).enumerated() {
                let position = offset + 1
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

    // MARK: recovery

    /// Replays one record of partition `index`'s log (on start, before anything else).
    public mutating func replay(partition index: Int, _ record: PartitionRecord) {
        partitions[index].apply(record)
        switch record {
        case .started(let started):
            openByVisitor[started.site, default: [:]][started.visitor] = started.id
        case .state(let change) where !change.state.isOpen:
            if let conversation = partitions[index].conversations[change.id],
               openByVisitor[conversation.site]?[conversation.visitor] == change.id {
                openByVisitor[conversation.site]?[conversation.visitor] = nil
            }
        default:
            break
        }
    }

    /// After replay: requeue interrupted offers, schedule timers, let homes count the chats
    /// their operators still have.
    public mutating func finishRecovery(now: Instant, into effects: inout [RouterEffect]) {
        for index in partitions.indices {
            var actions: [Partition.Action] = []
            let active = partitions[index].recover(now: now, into: &actions)
            for (op, chats) in active {
                for id in chats { homes[op]?.adoptActive(id) }
                reindex(op)
            }
            process(index, actions, now: now, &effects)
        }
    }

    // MARK: compaction

    /// Takes the conversations that have been over for at least `closedFor` at `now` out of
    /// the partitions (for the transcript store); by default every one that is over.
    /// Changes no open conversation and emits nothing.
    public mutating func evictClosed(now: Instant = .max, closedFor: UInt64 = 0) -> [Conversation] {
        var closed: [Conversation] = []
        for index in partitions.indices { closed += partitions[index].evictClosed(now: now, closedFor: closedFor) }
        for conversation in closed { lastPositions[conversation.id] = nil }
        return closed
    }

    /// The records that rebuild every conversation in memory: the start of a compacted log.
    public func snapshot() -> [(partition: Int, record: PartitionRecord)] {
        partitions.flatMap { partition in partition.snapshotRecords().map { (partition.index, $0) } }
    }

    /// Every conversation in memory with its partition: values, so they can be encoded as a
    /// snapshot off the loop while the core goes on.
    public func conversationsInMemory() -> [(partition: Int, conversation: Conversation)] {
        partitions.flatMap { partition in partition.conversations.values.map { (partition.index, $0) } }
    }

    // MARK: the message exchange

    private mutating func onPartition<T>(
        of id: ConversationID, now: Instant, _ effects: inout [RouterEffect],
        _ body: (inout Partition, inout [Partition.Action]) throws(RouterError) -> T
    ) throws(RouterError) -> T {
        let index = partitionIndex(of: id)
        var actions: [Partition.Action] = []
        let result = try body(&partitions[index], &actions)
        process(index, actions, now: now, &effects)
        return result
    }

    private mutating func onHome(_ op: OperatorID, now: Instant, _ effects: inout [RouterEffect],
                                 _ body: (inout OperatorHome) -> [OperatorHome.Action]) throws(RouterError) {
        guard homes[op] != nil else { throw .unknownOperator(op) }
        let actions = body(&homes[op]!)
        reindex(op)
        var work: [(Int, Partition.Action)] = []
        handleHome(op, actions, now: now, &work, &effects)
        drain(&work, now: now, &effects)
    }

    private mutating func process(_ index: Int, _ actions: [Partition.Action], now: Instant, _ effects: inout [RouterEffect]) {
        var work = actions.map { (index, $0) }
        drain(&work, now: now, &effects)
        publishHeads(index)
    }

    /// Runs the work list to the end: each action may add more work, as messages between
    /// partitions and homes would.
    private mutating func drain(_ work: inout [(Int, Partition.Action)], now: Instant, _ effects: inout [RouterEffect]) {
        var next = 0
        while next < work.count {
            let (index, action) = work[next]
            next += 1
            var more: [Partition.Action] = []
            switch action {
            case .persist(let record):
                effects.append(.persist(partition: index, record))
            case .toVisitor(let id, let notice):
                if case .queued = notice {} else { lastPositions[id] = nil }
                effects.append(.toVisitor(id, notice))
            case .toOperator(let op, let notice):
                effects.append(.toOperator(op, notice))
            case .schedule(let timer, let at):
                effects.append(.schedule(.partition(index, timer), at: at))
            case .visitorConversation(let site, let visitor, let id):
                if let id {
                    openByVisitor[site, default: [:]][visitor] = id
                } else {
                    openByVisitor[site]?[visitor] = nil
                }
            case .handled(let queue, let handleTime):
                // Exponentially weighted, so the estimate follows the team's current pace.
                let previous = handleTimes[queue] ?? handleTime
                handleTimes[queue] = previous - previous / 8 + handleTime / 8
            case .seekOperator(let id, let site, let skill, let level, let excluding):
                if let op = chooseOperator(site: site, skill: skill, level: level, excluding: excluding) {
                    reserve(id, partition: index, operator: op, now: now, &more, &effects)
                } else {
                    partitions[index].onNoCandidate(id)
                }
            case .reserveOperator(let id, let op):
                reserve(id, partition: index, operator: op, now: now, &more, &effects)
            case .home(let op, let notice):
                guard homes[op] != nil else { break }
                let homeActions: [OperatorHome.Action]
                switch notice {
                case .accepted(let id):
                    homes[op]!.onAccepted(id)
                    homeActions = []
                case .missed(let id):
                    homeActions = homes[op]!.onMissed(id, now: now)
                case .released(let id):
                    homeActions = homes[op]!.onReleased(id, now: now)
                }
                reindex(op)
                var homeWork: [(Int, Partition.Action)] = []
                handleHome(op, homeActions, now: now, &homeWork, &effects)
                work.append(contentsOf: homeWork)
            }
            work.append(contentsOf: more.map { (index, $0) })
            publishHeads(index)
        }
    }

    private mutating func reserve(_ id: ConversationID, partition index: Int, operator op: OperatorID, now: Instant,
                                  _ more: inout [Partition.Action], _ effects: inout [RouterEffect]) {
        guard let actions = homes[op]?.onReserve(id, partition: index) else {
            partitions[index].onDenied(id, operator: op, into: &more)
            return
        }
        reindex(op)
        for action in actions {
            switch action {
            case .grant:
                if let profile = homes[op]?.profile {
                    partitions[index].onGranted(id, operator: op, profile: profile, now: now, into: &more)
                }
            case .deny:
                partitions[index].onDenied(id, operator: op, into: &more)
            default:
                break
            }
        }
        publishHeads(index)
    }

    private mutating func handleHome(_ op: OperatorID, _ actions: [OperatorHome.Action], now: Instant,
                                     _ work: inout [(Int, Partition.Action)], _ effects: inout [RouterEffect]) {
        for action in actions {
            switch action {
            case .pull:
                pull(op, now: now, &work)
            case .statusChanged(let status, let reason):
                effects.append(.toOperator(op, .statusChanged(status, reason: reason)))
            case .requeue(let chats):
                for id in chats {
                    let index = partitionIndex(of: id)
                    var actions: [Partition.Action] = []
                    partitions[index].onOperatorLost(id, operator: op, now: now, into: &actions)
                    work.append(contentsOf: actions.map { (index, $0) })
                    publishHeads(index)
                }
            case .scheduleGrace(let token, let at):
                effects.append(.schedule(.grace(op, token: token), at: at))
            case .grant, .deny:
                break  // answers to reservations are handled in `reserve`
            }
        }
    }

    /// The operator has free slots: offer them the best waiting conversations they can
    /// take, across partitions, one slot at a time.
    private mutating func pull(_ op: OperatorID, now: Instant, _ work: inout [(Int, Partition.Action)]) {
        guard let profile = homes[op]?.profile else { return }
        while homes[op]!.acceptsNewChats, let (index, id) = bestWaiting(for: profile), homes[op]!.reservePullSlot() {
            var actions: [Partition.Action] = []
            let offered = partitions[index].onPull(id, operator: profile, now: now, into: &actions)
            _ = homes[op]!.onPullAnswered(offered ? id : nil)
            reindex(op)
            work.append(contentsOf: actions.map { (index, $0) })
            publishHeads(index)
            if !offered { return }
        }
    }

    /// Best-first search over the partitions' queue heads. A head may be a conversation this
    /// operator declined, so each partition is asked for its real best for them; the search
    /// stops once no unvisited head can beat the best found.
    private mutating func bestWaiting(for profile: OperatorProfile) -> (partition: Int, conversation: ConversationID)? {
        var visited: Set<Int> = []
        var found: (partition: Int, conversation: ConversationID, rank: QueueRank)?
        while true {
            var head: (partition: Int, rank: QueueRank)?
            for (skill, level) in profile.skills {
                if let candidate = directory.best(site: profile.site, skill: skill, level: level, excluding: visited),
                   head.map({ candidate.rank < $0.rank }) ?? true {
                    head = candidate
                }
            }
            guard let head, found.map({ head.rank < $0.rank }) ?? true else { break }
            visited.insert(head.partition)
            if let real = partitions[head.partition].bestWaiting(for: profile), found.map({ real.rank < $0.rank }) ?? true {
                found = (head.partition, real.conversation, real.rank)
                // The usual case: the best head is one they may take, so nothing can beat it.
                if real.rank == head.rank { break }
            }
        }
        return found.map { ($0.partition, $0.conversation) }
    }

    private mutating func publishHeads(_ index: Int) {
        for (lane, head) in partitions[index].takeChangedLanes() {
            directory.update(lane: lane, partition: index, head: head)
        }
    }

    // MARK: choosing operators

    /// Brings the availability indexes up to date with operator `op`'s home.
    private mutating func reindex(_ op: OperatorID) {
        guard let home = homes[op] else { return }
        let now = (available: home.acceptsNewChats, online: home.status == .online && home.connections > 0)
        let before = indexed[op] ?? (false, false)
        guard now != before else { return }
        indexed[op] = now
        for skill in home.profile.skills.keys {
            let key = SiteSkill(site: home.profile.site, skill: skill)
            if now.available != before.available {
                if now.available { availableBySkill[key, default: []].insert(op) } else { availableBySkill[key]?.remove(op) }
            }
            if now.online != before.online { onlineSlots[key, default: 0] += (now.online ? 1 : -1) * home.profile.maxChats }
        }
    }

    /// True while an operator with this skill is online on the site: the rule that decides
    /// whether a new chat waits in the queue or becomes an offline message.
    public func anyoneOnline(site: SiteID, skill: Skill) -> Bool {
        onlineSlots[SiteSkill(site: site, skill: skill), default: 0] > 0
    }

    private func serverCount(_ queue: SiteSkill) -> Int {
        onlineSlots[queue, default: 0]
    }

    private mutating func chooseOperator(site: SiteID, skill: Skill, level: Int, excluding: Set<OperatorID>) -> OperatorID? {
        guard let policy = sites[site]?.settings.policy,
              let candidates = availableBySkill[SiteSkill(site: site, skill: skill)], !candidates.isEmpty else { return nil }
        let eligible = candidates.compactMap { op -> OperatorSummary? in
            guard !excluding.contains(op), let summary = homes[op]?.summary, summary.profile.level(in: skill) >= level else { return nil }
            return summary
        }
        let key = SiteSkill(site: site, skill: skill)
        let chosen = OperatorSelection.choose(policy: policy, among: eligible, skill: skill, after: roundRobinCursor[key])
        if let chosen, policy == .roundRobin { roundRobinCursor[key] = chosen }
        return chosen
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
