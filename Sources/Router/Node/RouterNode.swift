import Foundation
import Wire

/// Receives what a router node tells visitors and operators, on the node's loop thread,
/// only after the state changes behind it are durable.
public protocol RouterNodeDelegate: AnyObject {
    /// A notice for the visitor of `conversation`.
    func routerNode(_ node: RouterNode, deliver notice: VisitorNotice, toVisitorOf conversation: ConversationID)
    /// A notice for operator `op`.
    func routerNode(_ node: RouterNode, deliver notice: OperatorNotice, to op: OperatorID)
    /// Conversations that are over left memory for the transcript store: nobody will hear
    /// of them again, so whatever the delegate keeps for them can go.
    func routerNode(_ node: RouterNode, didArchive conversations: [ConversationID])
}

extension RouterNodeDelegate {
    /// A delegate that keeps nothing per conversation has nothing to forget.
    public func routerNode(_ node: RouterNode, didArchive conversations: [ConversationID]) {}
}

/// The shell around `RouterCore` on one event loop: it runs commands and timers, appends the
/// records each step produces to the durable log, and releases the step's answer and then
/// its notices only once those records are durable ("output commit"), strictly in step order.
/// So nothing a client is told can be lost by a crash, and a retry after a crash finds
/// exactly what was acknowledged.
///
/// Loop-confined: create it with `RouterNode.open` and call it only on its loop.
public final class RouterNode {
    /// The loop the node runs on.
    public let loop: EventLoop
    /// Receives notices; held weakly.
    public weak var delegate: (any RouterNodeDelegate)?
    /// Carries messages to the routers that own their partitions or homes (or to every
    /// other router), in order, each once what came before it is durable, with the epochs
    /// this router holds for them. A router alone (owning every partition) sends nothing.
    public var send: ((RoutingMessage, RoutingStamp) -> Void)?
    /// Called with each summary a home here publishes (the shell gossips them: presence).
    public var onPublished: ((OperatorSummary) -> Void)?
    /// The routing state (read-only outside the node: change it through `perform`).
    public internal(set) var core: RouterCore
    let log: DurableLog
    /// The log's directory (segments, and `partitions/` for the partitions' snapshots).
    let logDirectory: String
    /// Each partition's stream: the number its next record gets, how far its snapshot covers.
    var streams: PartitionStreams
    /// Conversations that are over, moved out of memory `archiveDelay` after they close.
    public let transcripts: TranscriptStore
    /// Files sent in chats.
    public let attachments: AttachmentStore
    /// The sites' and operators' canned responses.
    public let canned: CannedStore
    /// Transcripts visitors asked to receive by e-mail, for the host's mailer.
    public let outbox: MailOutbox
    /// Days a transcript is kept (default 90).
    public var transcriptRetentionDays = 90
    var compactionTimer: TimerID?
    var archiveTimer: TimerID?
    /// How long a conversation that is over stays in memory (default 60 s: the widget's
    /// rating form, an e-mailed transcript); then it is read from the transcript store.
    public let archiveDelay: UInt64
    /// Conversations taken out of memory whose transcript is not yet durable, by id (so
    /// reads find them meanwhile).
    var archiving: [ConversationID: Conversation] = [:]
    /// Steps whose output waits for the log, oldest first.
    var waiting: [Step] = []
    var nextAppend: UInt64 = 0
    var durableUpTo: UInt64 = 0
    var failure: RouterError?
    var positionsTimer: TimerID?
    /// How often waiting visitors get their place in line (default 1 s).
    public let positionInterval: UInt64
    /// The wall clock (injected by tests that recover a log written at another time).
    let clock: @Sendable () -> Instant
    var lastWallClock: Instant = 0

    struct Step {
        /// The log append this step's output waits for (appends complete in order).
        var append: UInt64
        var effects: [RouterEffect]
        /// The epochs of each message it sends, in order, as they were when the step ran:
        /// a table learned while the step waits for the disk must not vouch for it.
        var stamps: [RoutingStamp]
        var reply: ((RouterError?) -> Void)?
    }

    /// Opens the data directory (`log/`, `transcripts/`, `attachments/`, `outbox/` and
    /// `canned.json` inside it), replays the log, and returns a node running on `loop`. Call
    /// on the loop. `owned` names the partitions this router owns (all by default), at
    /// `epochs` (the table's; all 0 by default); `send`
    /// carries messages to the other routers. `compactionInterval` 0 turns periodic
    /// compaction off; `archiveInterval` 0 turns periodic archiving off.
    public static func open(
        loop: EventLoop, directory: String, sites: [SiteConfiguration], partitionCount: Int, owned: Set<Int>? = nil, epochs: [UInt64]? = nil, policy: SyncPolicy = .always,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max), positionInterval: UInt64 = 1_000_000_000,
        compactionInterval: UInt64 = 300_000_000_000, archiveInterval: UInt64 = 1_000_000_000,
        archiveDelay: UInt64 = 60_000_000_000, repair: Bool = false, clock: @escaping @Sendable () -> Instant = { WallClock.now() },
        send: ((RoutingMessage, RoutingStamp) -> Void)? = nil
    ) throws -> (RouterNode, SegmentedLog.Recovery) {
        loop.assertInLoop()
        try DurableFile.makeDirectory(directory)
        let transcripts = try TranscriptStore(directory: directory + "/transcripts", repair: repair)
        let files = (attachments: try AttachmentStore(directory: directory + "/attachments"), canned: try CannedStore(directory: directory),
                     outbox: try MailOutbox(directory: directory + "/outbox"))
        let (log, recovery) = try DurableLog.open(directory: directory + "/log", policy: policy, repair: repair)
        let placement = Placement(partitionCount: partitionCount, owned: owned, epochs: epochs)
        var core = RouterCore(placement: placement, sites: sites, seed: seed)
        let streams: PartitionStreams
        do {
            streams = try PartitionLogReplay.replay(directory: directory + "/log", records: recovery.records, placement: placement) { partition, record in
                core.replay(partition: partition, record)
            }
        } catch {
            log.close()
            throw error
        }
        let node = RouterNode(loop: loop, core: core, log: log, logDirectory: directory + "/log", transcripts: transcripts, files: files,
                              positionInterval: positionInterval, archiveDelay: archiveDelay, clock: clock)
        node.streams = streams
        // Set before recovery: it tells other routers' homes which chats their operators still have.
        node.send = send
        node.step { core, now, effects in core.finishRecovery(now: now, into: &effects) }
        node.schedulePositions()
        if compactionInterval > 0 { node.scheduleCompaction(every: compactionInterval) }
        if archiveInterval > 0 { node.scheduleArchiving(every: archiveInterval) }
        return (node, recovery)
    }

    private init(loop: EventLoop, core: RouterCore, log: DurableLog, logDirectory: String, transcripts: TranscriptStore,
                 files: (attachments: AttachmentStore, canned: CannedStore, outbox: MailOutbox), positionInterval: UInt64,
                 archiveDelay: UInt64, clock: @escaping @Sendable () -> Instant) {
        self.clock = clock
        streams = PartitionStreams(partitionCount: core.partitionCount)
        self.loop = loop
        self.core = core
        self.log = log
        self.logDirectory = logDirectory
        self.transcripts = transcripts
        (attachments, canned, outbox) = files
        self.positionInterval = positionInterval
        self.archiveDelay = archiveDelay
    }

    /// Now on the core's clock (wall time, never going back): for what the service stores
    /// or shows beside the core (page views, queue waits).
    public func wallClock() -> Instant {
        lastWallClock = max(lastWallClock, clock())
        return lastWallClock
    }

    /// A core instant as milliseconds since 1970, as clients show times.
    public func wallMilliseconds(_ instant: Instant) -> Int64 {
        Int64(instant / 1_000_000)
    }

    /// A conversation from memory, on its way to the transcript store, or stored there.
    public func conversation(_ id: ConversationID) throws(StorageError) -> Conversation? {
        if let live = core.conversation(id) { return live }
        if let leaving = archiving[id] { return leaving }
        return try transcripts.transcript(id)
    }

    /// Runs a command. `reply` gets its outcome once everything it changed is durable (or
    /// at once if it was refused and changed nothing).
    public func execute(_ command: RouterCommand, reply: @escaping (Result<CommandOutcome, RouterError>) -> Void) {
        loop.assertInLoop()
        if let failure {
            reply(.failure(failure))
            return
        }
        var effects: [RouterEffect] = []
        let outcome: CommandOutcome
        do {
            outcome = try core.execute(command, now: coreTime(), into: &effects)
        } catch {
            reply(.failure(error))
            return
        }
        enqueue(effects) { error in reply(error.map { .failure($0) } ?? .success(outcome)) }
    }

    /// What each home here says of its operator now (to gossip when presence starts).
    public var homeSummaries: [OperatorSummary] {
        core.homes.values.map(\.summary).sorted { $0.profile.id < $1.profile.id }
    }

    /// A summary another router's home published, heard by gossip. An operator whose home
    /// is here is left alone: this router's home is the truth about them.
    public func receiveGossiped(_ summary: OperatorSummary) {
        guard !core.placement.ownsHome(of: summary.profile.id) else { return }
        receive(.availability(summary), stamp: nil)
    }

    /// The router that published `summary` is gone: its operator is offline here until
    /// their next home says otherwise (a new home starts at a later epoch, so it wins).
    public func forgetGossiped(_ summary: OperatorSummary) {
        var gone = summary
        (gone.available, gone.online, gone.status, gone.consoles) = (false, false, .offline, 0)
        gone.version += 1
        receiveGossiped(gone)
    }

    /// A message from another router for a partition or home here, or for every router,
    /// with the epochs its sender holds (nil for what gossip brought, which has none).
    public func receive(_ message: RoutingMessage, stamp: RoutingStamp?) {
        loop.assertInLoop()
        guard failure == nil else { return }
        step { core, now, effects in core.receive(message, stamp: stamp, now: now, into: &effects) }
    }

    /// The committed partition table changed: each partition's epoch, and which are this
    /// router's (`RouterCore.learn`). Returns the partitions that changed hands here.
    @discardableResult
    public func learnTable(epochs: [UInt64], owned: Set<Int>) -> (gained: [Int], lost: [Int]) {
        loop.assertInLoop()
        var changed: (gained: [Int], lost: [Int]) = ([], [])
        guard failure == nil else { return changed }
        step { core, now, effects in changed = core.learn(epochs: epochs, owned: owned, now: now, into: &effects) }
        return changed
    }

    /// Appends what is pending and stops the log writer. The node must not be used after.
    public func close() {
        loop.assertInLoop()
        if let positionsTimer { loop.cancelTimer(positionsTimer) }
        if let compactionTimer { loop.cancelTimer(compactionTimer) }
        if let archiveTimer { loop.cancelTimer(archiveTimer) }
        log.close()
    }

    // MARK: internals

    /// The time every change to the core runs at: wall-clock nanoseconds since 1970, so
    /// what is stored (event times, when a chat joined the queue, its rank) means the same
    /// after a reboot or on another router. A fresh clock read for each step, so commands
    /// handled in one loop turn (chat starts from many visitors) get distinct, ordered
    /// times, and never earlier than the last step's, so a clock stepped back by NTP does
    /// not reorder the queue (time then stands still until the clock catches up).
    func coreTime() -> Instant {
        wallClock()
    }

    func step(_ body: (inout RouterCore, Instant, inout [RouterEffect]) -> Void) {
        var effects: [RouterEffect] = []
        body(&core, coreTime(), &effects)
        enqueue(effects, reply: nil)
    }

    func enqueue(_ effects: [RouterEffect], reply: ((RouterError?) -> Void)?) {
        var records: [(type: UInt8, body: [UInt8])] = []
        for case .persist(let partition, let record) in effects {
            records.append(PartitionRecordCodec.encode(record, partition: partition, sequence: streams.next(partition)))
        }
        if !records.isEmpty {
            nextAppend += 1
            let box = UncheckedBox(self)
            let loop = self.loop
            log.append(records) { result in
                loop.execute {
                    switch result {
                    case .success: box.value.appendDurable()
                    case .failure(let error): box.value.fail(.storageFailed(error.description))
                    }
                }
            }
        }
        var stamps: [RoutingStamp] = []
        for case .send(let message) in effects { stamps.append(core.placement.stamp(message)) }
        waiting.append(Step(append: nextAppend, effects: effects, stamps: stamps, reply: reply))
        release()
    }

    func appendDurable() {
        durableUpTo += 1
        release()
    }

    /// Delivers, in order, every step whose records are durable.
    func release() {
        var released = 0
        for step in waiting {
            guard step.append <= durableUpTo else { break }
            released += 1
            // The answer first, then its consequences: a client learns the id it asked for
            // (a new conversation) before the events that carry it.
            step.reply?(nil)
            var stamps = step.stamps.makeIterator()
            for effect in step.effects {
                if case .send(let message) = effect, let stamp = stamps.next() { send?(message, stamp) } else { execute(effect) }
            }
        }
        waiting.removeFirst(released)
    }

    func execute(_ effect: RouterEffect) {
        switch effect {
        case .persist:
            break  // already in the log
        case .toVisitor(let id, let notice):
            delegate?.routerNode(self, deliver: notice, toVisitorOf: id)
        case .toOperator(let op, let notice):
            delegate?.routerNode(self, deliver: notice, to: op)
        case .send:
            break  // sent by `release`, with the stamp of the step that made it
        case .published(let summary):
            onPublished?(summary)
        case .schedule(let timer, let at):
            // The core's deadline is wall time; the loop's timers run on the monotonic clock.
            let now = wallClock()
            loop.scheduleTimer(at: loop.now + (at > now ? at - now : 0)) { [weak self] in
                guard let self, self.failure == nil else { return }
                self.step { core, now, effects in core.onTimer(timer, now: now, into: &effects) }
            }
        }
    }

    /// The log failed: memory is now ahead of the disk, so nothing more may be acknowledged.
    func fail(_ error: RouterError) {
        guard failure == nil else { return }
        failure = error
        for step in waiting { step.reply?(error) }
        waiting.removeAll()
    }
}

@available(*, unavailable)
extension RouterNode: Sendable {}
