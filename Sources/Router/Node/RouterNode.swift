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
    /// other router), in order, each once what came before it is durable. A router alone
    /// (owning every partition) sends nothing.
    public var send: ((RoutingMessage) -> Void)?
    /// The routing state (read-only outside the node: change it through `perform`).
    public private(set) var core: RouterCore
    private let log: DurableLog
    /// The log's directory (segments, and `partitions/` for the partitions' snapshots).
    private let logDirectory: String
    /// Each partition's stream: the number its next record gets, how far its snapshot covers.
    private var streams: PartitionStreams
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
    private var compactionTimer: TimerID?
    private var archiveTimer: TimerID?
    /// How long a conversation that is over stays in memory (default 60 s: the widget's
    /// rating form, an e-mailed transcript); then it is read from the transcript store.
    public let archiveDelay: UInt64
    /// Conversations taken out of memory whose transcript is not yet durable, by id (so
    /// reads find them meanwhile).
    private var archiving: [ConversationID: Conversation] = [:]
    /// Steps whose output waits for the log, oldest first.
    private var waiting: [Step] = []
    private var nextAppend: UInt64 = 0
    private var durableUpTo: UInt64 = 0
    private var failure: RouterError?
    private var positionsTimer: TimerID?
    /// How often waiting visitors get their place in line (default 1 s).
    public let positionInterval: UInt64
    /// The wall clock (injected by tests that recover a log written at another time).
    private let clock: @Sendable () -> Instant
    private var lastWallClock: Instant = 0

    private struct Step {
        /// The log append this step's output waits for (appends complete in order).
        var append: UInt64
        var effects: [RouterEffect]
        var reply: ((RouterError?) -> Void)?
    }

    /// Opens the data directory (`log/`, `transcripts/`, `attachments/`, `outbox/` and
    /// `canned.json` inside it), replays the log, and returns a node running on `loop`. Call
    /// on the loop. `owned` names the partitions this router owns (all by default); `send`
    /// carries messages to the other routers. `compactionInterval` 0 turns periodic
    /// compaction off; `archiveInterval` 0 turns periodic archiving off.
    public static func open(
        loop: EventLoop, directory: String, sites: [SiteConfiguration], partitionCount: Int, owned: Set<Int>? = nil, policy: SyncPolicy = .always,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max), positionInterval: UInt64 = 1_000_000_000,
        compactionInterval: UInt64 = 300_000_000_000, archiveInterval: UInt64 = 1_000_000_000,
        archiveDelay: UInt64 = 60_000_000_000, repair: Bool = false, clock: @escaping @Sendable () -> Instant = { WallClock.now() },
        send: ((RoutingMessage) -> Void)? = nil
    ) throws -> (RouterNode, SegmentedLog.Recovery) {
        loop.assertInLoop()
        try DurableFile.makeDirectory(directory)
        let transcripts = try TranscriptStore(directory: directory + "/transcripts", repair: repair)
        let files = (attachments: try AttachmentStore(directory: directory + "/attachments"), canned: try CannedStore(directory: directory),
                     outbox: try MailOutbox(directory: directory + "/outbox"))
        let (log, recovery) = try DurableLog.open(directory: directory + "/log", policy: policy, repair: repair)
        let placement = Placement(partitionCount: partitionCount, owned: owned)
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

    /// A message from another router for a partition or home here, or for every router.
    public func receive(_ message: RoutingMessage) {
        loop.assertInLoop()
        guard failure == nil else { return }
        step { core, now, effects in core.receive(message, now: now, into: &effects) }
    }

    /// Moves the conversations that have been over for `closedFor` (default `archiveDelay`)
    /// out of memory into the transcript store, through the log's writer thread (in order
    /// with compactions: a compaction never drops the records of a conversation whose
    /// transcript is not durable yet). Returns how many left memory; `reply` runs on the
    /// loop once they are stored.
    @discardableResult
    public func archive(closedFor: UInt64? = nil, reply: @escaping (Result<Int, any Error>) -> Void = { _ in }) -> Int {
        loop.assertInLoop()
        let closed = core.evictClosed(now: coreTime(), closedFor: closedFor ?? archiveDelay)
        guard !closed.isEmpty else {
            reply(.success(0))
            return 0
        }
        let ids = closed.map(\.id)
        delegate?.routerNode(self, didArchive: ids)
        // After a restart the log may still hold conversations archived before it: those
        // leave memory again without a second copy in the store.
        let fresh = closed.filter { !transcripts.contains($0.id) }
        storeTranscripts(fresh) { result in reply(result.map { closed.count }.mapError { $0 }) }
        return closed.count
    }

    /// Stores transcripts through the log's writer thread (in order with appends and
    /// compactions); until they are durable, reads find them in `archiving`. A failure
    /// fails the node: the log may hold the only copy. `done` runs on the loop.
    private func storeTranscripts(_ conversations: [Conversation], done: @escaping (Result<Void, RouterError>) -> Void) {
        for conversation in conversations { archiving[conversation.id] = conversation }
        let (transcripts, box, loop) = (self.transcripts, UncheckedBox((node: self, done: done)), self.loop)
        log.perform({ () throws(StorageError) in try transcripts.store(conversations, on: Date()) }, completion: { result in
            loop.execute {
                let (node, done) = box.value
                for conversation in conversations { node.archiving[conversation.id] = nil }
                switch result {
                case .success:
                    done(.success(()))
                case .failure(let error):
                    node.fail(.storageFailed("\(error)"))
                    done(.failure(.storageFailed("\(error)")))
                }
            }
        })
    }

    /// Rates a chat that has already left memory (a shopper may rate a while after the
    /// end): its transcript is stored again with the rating, through the log's writer
    /// thread; the newer copy is the one read. `reply` runs on the loop once it is durable.
    public func rateArchived(_ id: ConversationID, rating: Rating, reply: @escaping (Result<Void, RouterError>) -> Void) {
        loop.assertInLoop()
        if let failure { return reply(.failure(failure)) }
        let stored: Conversation?
        do {
            stored = try conversation(id)
        } catch {
            return reply(.failure(.storageFailed("\(error)")))
        }
        guard var rated = stored, core.conversation(id) == nil else { return reply(.failure(.unknownConversation(id))) }
        do throws(RouterError) {
            try Partition.checkRating(rating, of: rated)
        } catch {
            return reply(.failure(error))
        }
        rated.rating = rating
        // Meanwhile reads (and a second rating) see the rated copy.
        storeTranscripts([rated], done: reply)
    }

    /// Archives what is due (see `archive`), then gives every partition whose stream went
    /// on a new snapshot (the records of its conversations still in memory, covering its
    /// stream up to now) and drops the segments before, so the log (and recovery time)
    /// stays proportional to what is live. The conversations are taken here as values and
    /// encoded and written by the log's compaction thread (`DurableLog.compact`), so
    /// neither the loop nor the appends wait for it. Expired transcripts are deleted.
    /// `reply` runs on the loop when done, with the number archived.
    public func compact(reply: @escaping (Result<Int, any Error>) -> Void = { _ in }) {
        loop.assertInLoop()
        let archived = archive()
        // Partitions whose stream went on since their snapshot; the others' snapshots still
        // cover every record they have in the segments this compaction drops.
        let due = core.placement.ownedPartitions.filter { streams.last[$0] > streams.covered[$0] }.map { partition in
            (partition: partition, covers: streams.last[partition],
             conversations: core.conversationsInMemory(partition: partition).sorted { $0.id < $1.id })
        }
        let (transcripts, retention, attachments, directory) = (self.transcripts, transcriptRetentionDays, self.attachments, logDirectory)
        let box = UncheckedBox((node: self, reply: reply))
        let loop = self.loop
        log.compact(install: {
            for entry in due {
                try PartitionSnapshots.write(directory: directory, partition: entry.partition, covers: entry.covers) { (emit) throws(StorageError) in
                    for conversation in entry.conversations {
                        for record in Partition.records(rebuilding: conversation) { try emit(record) }
                    }
                }
            }
        }, beforeDropping: {
            attachments.delete(transcripts.purge(retentionDays: retention, now: Date()).attachmentIDs)
        }, completion: { result in
            loop.execute {
                let (node, reply) = box.value
                if case .success = result {
                    for entry in due { node.streams.snapshotted(entry.partition, upTo: entry.covers) }
                }
                reply(result.map { archived })
            }
        })
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
    private func coreTime() -> Instant {
        wallClock()
    }

    private func step(_ body: (inout RouterCore, Instant, inout [RouterEffect]) -> Void) {
        var effects: [RouterEffect] = []
        body(&core, coreTime(), &effects)
        enqueue(effects, reply: nil)
    }

    private func enqueue(_ effects: [RouterEffect], reply: ((RouterError?) -> Void)?) {
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
        waiting.append(Step(append: nextAppend, effects: effects, reply: reply))
        release()
    }

    private func appendDurable() {
        durableUpTo += 1
        release()
    }

    /// Delivers, in order, every step whose records are durable.
    private func release() {
        var released = 0
        for step in waiting {
            guard step.append <= durableUpTo else { break }
            released += 1
            // The answer first, then its consequences: a client learns the id it asked for
            // (a new conversation) before the events that carry it.
            step.reply?(nil)
            for effect in step.effects { execute(effect) }
        }
        waiting.removeFirst(released)
    }

    private func execute(_ effect: RouterEffect) {
        switch effect {
        case .persist:
            break  // already in the log
        case .toVisitor(let id, let notice):
            delegate?.routerNode(self, deliver: notice, toVisitorOf: id)
        case .toOperator(let op, let notice):
            delegate?.routerNode(self, deliver: notice, to: op)
        case .send(let message):
            send?(message)
        case .schedule(let timer, let at):
            // The core's deadline is wall time; the loop's timers run on the monotonic clock.
            let now = wallClock()
            loop.scheduleTimer(at: loop.now + (at > now ? at - now : 0)) { [weak self] in
                guard let self, self.failure == nil else { return }
                self.step { core, now, effects in core.onTimer(timer, now: now, into: &effects) }
            }
        }
    }

    private func scheduleCompaction(every interval: UInt64) {
        compactionTimer = loop.scheduleTimer(at: loop.now + interval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.compact()
            self.scheduleCompaction(every: interval)
        }
    }

    private func scheduleArchiving(every interval: UInt64) {
        archiveTimer = loop.scheduleTimer(at: loop.now + interval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.archive()
            self.scheduleArchiving(every: interval)
        }
    }

    private func schedulePositions() {
        positionsTimer = loop.scheduleTimer(at: loop.now + positionInterval) { [weak self] in
            guard let self, self.failure == nil else { return }
            self.step { core, _, effects in core.refreshQueuePositions(into: &effects) }
            self.schedulePositions()
        }
    }

    /// The log failed: memory is now ahead of the disk, so nothing more may be acknowledged.
    private func fail(_ error: RouterError) {
        guard failure == nil else { return }
        failure = error
        for step in waiting { step.reply?(error) }
        waiting.removeAll()
    }
}

@available(*, unavailable)
extension RouterNode: Sendable {}
