import Foundation
import Wire

/// Receives what a router node tells visitors and operators, on the node's loop thread,
/// only after the state changes behind it are durable.
public protocol RouterNodeDelegate: AnyObject {
    /// A notice for the visitor of `conversation`.
    func routerNode(_ node: RouterNode, deliver notice: VisitorNotice, toVisitorOf conversation: ConversationID)
    /// A notice for operator `op`.
    func routerNode(_ node: RouterNode, deliver notice: OperatorNotice, to op: OperatorID)
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
    /// The routing state (read-only outside the node: change it through `perform`).
    public private(set) var core: RouterCore
    private let log: DurableLog
    /// Conversations that are over, moved out of the log at each compaction.
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
    /// Steps whose output waits for the log, oldest first.
    private var waiting: [Step] = []
    private var nextAppend: UInt64 = 0
    private var durableUpTo: UInt64 = 0
    private var failure: RouterError?
    private var positionsTimer: TimerID?
    /// How often waiting visitors get their place in line (default 1 s).
    public let positionInterval: UInt64

    private struct Step {
        /// The log append this step's output waits for (appends complete in order).
        var append: UInt64
        var effects: [RouterEffect]
        var reply: ((RouterError?) -> Void)?
    }

    /// Opens the data directory (`log/`, `transcripts/`, `attachments/`, `outbox/` and
    /// `canned.json` inside it), replays the log, and
    /// returns a node running on `loop`. Call on the loop. `compactionInterval` 0 turns
    /// periodic compaction off.
    public static func open(
        loop: EventLoop, directory: String, sites: [SiteConfiguration], partitionCount: Int, policy: SyncPolicy = .always,
        seed: UInt64 = UInt64.random(in: 0...UInt64.max), positionInterval: UInt64 = 1_000_000_000,
        compactionInterval: UInt64 = 300_000_000_000, repair: Bool = false
    ) throws -> (RouterNode, SegmentedLog.Recovery) {
        loop.assertInLoop()
        try DurableFile.makeDirectory(directory)
        let transcripts = try TranscriptStore(directory: directory + "/transcripts")
        let files = (attachments: try AttachmentStore(directory: directory + "/attachments"), canned: try CannedStore(directory: directory),
                     outbox: try MailOutbox(directory: directory + "/outbox"))
        let (log, recovery) = try DurableLog.open(directory: directory + "/log", policy: policy, repair: repair)
        var core = RouterCore(partitionCount: partitionCount, sites: sites, seed: seed)
        for record in recovery.records {
            do {
                let (partition, decoded) = try PartitionRecordCodec.decode(type: record.type, body: record.body)
                guard partition < partitionCount else {
                    throw StorageError.undecodable(segment: directory, offset: record.offset, reason: "partition \(partition) of \(partitionCount)")
                }
                core.replay(partition: partition, decoded)
            } catch let error as WireError {
                log.close()
                throw StorageError.undecodable(segment: directory, offset: record.offset, reason: error.message)
            }
        }
        let node = RouterNode(loop: loop, core: core, log: log, transcripts: transcripts, files: files, positionInterval: positionInterval)
        node.step { core, now, effects in core.finishRecovery(now: now, into: &effects) }
        node.schedulePositions()
        if compactionInterval > 0 { node.scheduleCompaction(every: compactionInterval) }
        return (node, recovery)
    }

    private init(loop: EventLoop, core: RouterCore, log: DurableLog, transcripts: TranscriptStore,
                 files: (attachments: AttachmentStore, canned: CannedStore, outbox: MailOutbox), positionInterval: UInt64) {
        self.loop = loop
        self.core = core
        self.log = log
        self.transcripts = transcripts
        (attachments, canned, outbox) = files
        self.positionInterval = positionInterval
    }

    /// Runs a command. `reply` gets its result once everything it changed is durable (or
    /// at once if it was refused and changed nothing).
    public func perform<T>(
        _ command: (inout RouterCore, Instant, inout [RouterEffect]) throws(RouterError) -> T,
        reply: @escaping (Result<T, RouterError>) -> Void
    ) {
        loop.assertInLoop()
        if let failure {
            reply(.failure(failure))
            return
        }
        var effects: [RouterEffect] = []
        let result: T
        do {
            result = try command(&core, coreTime(), &effects)
        } catch {
            reply(.failure(error))
            return
        }
        enqueue(effects) { error in reply(error.map { .failure($0) } ?? .success(result)) }
    }

    /// Moves the conversations that are over into the transcript store and rewrites the log
    /// as just the records of the open ones, so the log (and recovery time) stays
    /// proportional to what is live. Expired transcripts are deleted. `reply` runs on the
    /// loop when done.
    public func compact(reply: @escaping (Result<Int, any Error>) -> Void = { _ in }) {
        loop.assertInLoop()
        let closed = core.evictClosed()
        let snapshot = core.snapshot().map { PartitionRecordCodec.encode($0.record, partition: $0.partition) }
        let (transcripts, retention, attachments) = (self.transcripts, transcriptRetentionDays, self.attachments)
        let box = UncheckedBox(reply)
        let loop = self.loop
        log.compact(snapshot: snapshot, beforeDropping: {
            let now = Date()
            try transcripts.store(closed, on: now)
            attachments.delete(transcripts.purge(retentionDays: retention, now: now).attachmentIDs)
        }, completion: { result in
            loop.execute { box.value(result.map { closed.count }) }
        })
    }

    /// Appends what is pending and stops the log writer. The node must not be used after.
    public func close() {
        loop.assertInLoop()
        if let positionsTimer { loop.cancelTimer(positionsTimer) }
        if let compactionTimer { loop.cancelTimer(compactionTimer) }
        log.close()
    }

    // MARK: internals

    /// The time every change to the core runs at: a fresh clock read rather than the loop's
    /// cached time, so commands handled in one loop turn (chat starts from many visitors)
    /// get distinct, ordered times and queue order follows arrival order, and so the core
    /// never sees time go back between a command and a timer of the same turn.
    private func coreTime() -> Instant {
        max(loop.now, MonotonicClock.now())
    }

    private func step(_ body: (inout RouterCore, Instant, inout [RouterEffect]) -> Void) {
        var effects: [RouterEffect] = []
        body(&core, coreTime(), &effects)
        enqueue(effects, reply: nil)
    }

    private func enqueue(_ effects: [RouterEffect], reply: ((RouterError?) -> Void)?) {
        var records: [(type: UInt8, body: [UInt8])] = []
        for case .persist(let partition, let record) in effects {
            records.append(PartitionRecordCodec.encode(record, partition: partition))
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
        case .schedule(let timer, let at):
            loop.scheduleTimer(at: at) { [weak self] in
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
