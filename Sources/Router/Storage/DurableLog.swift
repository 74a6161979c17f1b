import Wire
import Foundation
import Glibc

/// When appends are made durable.
public enum SyncPolicy: String, Sendable, CaseIterable {
    /// fdatasync before acknowledging, shared by every append waiting at that moment (group
    /// commit). The default: an acknowledged message survives a power cut.
    case always
    /// Acknowledge once written to the kernel; fdatasync every `syncInterval`. A crash of the
    /// machine (not the process) can lose the last interval.
    case interval
    /// Never fdatasync (tests, benchmarks of everything but the disk).
    case none
}

/// The segmented log behind a writer thread that batches appends: every append waiting
/// when the writer wakes goes out in one `write` and one `fdatasync`, then all their
/// completions run. Under load, batches grow and the cost of a sync is shared.
///
/// Thread-safe: `append` may be called from any thread; completions run on the writer thread.
public final class DurableLog: @unchecked Sendable {
    // @unchecked: `pending`, `closed` and `failure` are guarded by `condition`; `log` is
    // touched only by the writer thread after init.

    /// One request to the writer, served in order.
    private enum Request {
        case append(records: [(type: UInt8, body: [UInt8])], completion: @Sendable (Result<UInt64, StorageError>) -> Void)
        case compact(install: @Sendable () throws -> Void, beforeDropping: @Sendable () throws -> Void,
                     completion: @Sendable (Result<Void, any Error>) -> Void)
        case work(body: @Sendable () throws(StorageError) -> Void, completion: @Sendable (Result<Void, any Error>) -> Void)
    }

    /// The sync policy in force.
    public let policy: SyncPolicy
    /// For `.interval`: the longest time written data stays unsynced, in ns.
    public let syncInterval: UInt64
    private let log: SegmentedLog
    private let condition = NSCondition()
    private var pending: [Request] = []
    private var closed = false
    private var failure: StorageError?
    private let stopped = DispatchSemaphore(value: 0)
    /// Encodes and installs snapshots, one compaction at a time, beside the writer.
    private let compactor = DispatchQueue(label: "switchboard-compaction")

    /// Opens the log in `directory`; returns it with the recovered records (replay them
    /// before appending).
    public static func open(directory: String, policy: SyncPolicy = .always, syncInterval: UInt64 = 10_000_000,
                            segmentBytes: Int = 64 << 20, repair: Bool = false)
        throws(StorageError) -> (DurableLog, SegmentedLog.Recovery)
    {
        let (log, recovery) = try SegmentedLog.open(directory: directory, segmentBytes: segmentBytes, repair: repair)
        return (DurableLog(log: log, policy: policy, syncInterval: syncInterval), recovery)
    }

    private init(log: SegmentedLog, policy: SyncPolicy, syncInterval: UInt64) {
        self.log = log
        self.policy = policy
        self.syncInterval = syncInterval
        let thread = Thread { [self] in writerLoop() }
        thread.name = "switchboard-log"
        thread.start()
    }

    /// Appends records; `completion` gets the number of the last one once they are durable
    /// under the policy, or the error that stopped the log (after which every append fails).
    public func append(_ records: [(type: UInt8, body: [UInt8])], completion: @escaping @Sendable (Result<UInt64, StorageError>) -> Void) {
        precondition(!records.isEmpty, "append of no records")
        condition.lock()
        if let failure {
            condition.unlock()
            completion(.failure(failure))
            return
        }
        precondition(!closed, "append after close")
        pending.append(.append(records: records, completion: completion))
        condition.signal()
        condition.unlock()
    }

    /// After every append queued before it, replaces the log's segments up to here with
    /// what `install` makes durable (the partitions' snapshots, which must cover every record
    /// appended before this call): the writer starts a new segment (`SegmentedLog.roll`) and
    /// goes on appending, while the compaction thread runs `install`, then `beforeDropping`,
    /// then deletes the older segments (`SegmentedLog.dropFiles`). Neither the caller's loop
    /// nor the appends wait for a large snapshot (a compaction used to hold up every
    /// acknowledgement for a quarter second).
    public func compact(install: @escaping @Sendable () throws -> Void, beforeDropping: @escaping @Sendable () throws -> Void,
                        completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        enqueue(.compact(install: install, beforeDropping: beforeDropping, completion: completion), orFail: completion)
    }

    /// Runs `body` on the writer thread after every append queued before it is written,
    /// and before anything queued after it (storing transcripts, so that a later compaction
    /// never drops records whose copy is not yet durable elsewhere). If `body` throws, the
    /// log fails as if a write had: every later append and compaction is refused, since what
    /// the log holds may be the only copy.
    public func perform(_ body: @escaping @Sendable () throws(StorageError) -> Void, completion: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        enqueue(.work(body: body, completion: completion), orFail: completion)
    }

    private func enqueue(_ request: Request, orFail completion: @Sendable (Result<Void, any Error>) -> Void) {
        condition.lock()
        if let failure {
            condition.unlock()
            completion(.failure(failure))
            return
        }
        precondition(!closed, "request after close")
        pending.append(request)
        condition.signal()
        condition.unlock()
    }

    /// The error that stopped the log, if one did.
    private var currentFailure: StorageError? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    private func setFailure(_ error: StorageError) {
        condition.lock()
        if failure == nil { failure = error }
        condition.unlock()
    }

    /// Writes and syncs what is pending, then stops the writer. Appends after this are a
    /// programming error.
    public func close() {
        condition.lock()
        closed = true
        condition.signal()
        condition.unlock()
        stopped.wait()
        compactor.sync {}  // a compaction in progress finishes first
    }

    /// Writes a run of appends, syncs as the policy says, and runs their completions.
    private func writeAppends(_ appends: inout [(records: [(type: UInt8, body: [UInt8])], completion: @Sendable (Result<UInt64, StorageError>) -> Void)],
                              finishing: Bool, unsynced: inout Bool, lastSync: inout UInt64) {
        let before = log.recordCount
        var result: Result<Void, StorageError> = .success(())
        do throws(StorageError) {
            if !appends.isEmpty {
                try log.append(appends.flatMap(\.records))
                unsynced = true
            }
            let now = DispatchTime.now().uptimeNanoseconds
            let syncNow = switch policy {
            case .always: unsynced
            case .interval: unsynced && (finishing || now - lastSync >= syncInterval)
            case .none: false
            }
            if syncNow || (finishing && unsynced && policy != .none) {
                try log.sync()
                unsynced = false
                lastSync = now
            }
        } catch {
            result = .failure(error)
            setFailure(error)
        }
        // Each request learns the number of its own last record.
        var count = before
        for append in appends {
            count += UInt64(append.records.count)
            let own = count - 1
            append.completion(result.map { own })
        }
        appends.removeAll()
    }

    private func writerLoop() {
        var batch: [Request] = []
        var lastSync = DispatchTime.now().uptimeNanoseconds
        var unsynced = false
        while true {
            condition.lock()
            while pending.isEmpty && !closed {
                if unsynced && policy == .interval {
                    // Wake in time for the interval sync even with no new appends.
                    _ = condition.wait(until: Date(timeIntervalSinceNow: Double(syncInterval) / 1e9))
                    break
                }
                condition.wait()
            }
            swap(&batch, &pending)
            let finishing = closed && batch.isEmpty
            condition.unlock()

            // Runs of appends are written and synced together; a compaction first settles the
            // appends queued before it.
            var appends: [(records: [(type: UInt8, body: [UInt8])], completion: @Sendable (Result<UInt64, StorageError>) -> Void)] = []
            for request in batch {
                switch request {
                case .append(let records, let completion):
                    appends.append((records, completion))
                case .compact(let install, let beforeDropping, let completion):
                    writeAppends(&appends, finishing: false, unsynced: &unsynced, lastSync: &lastSync)
                    if let failure = currentFailure {
                        completion(.failure(failure))
                        continue
                    }
                    let first: UInt64
                    do throws(StorageError) {
                        first = try log.roll()
                    } catch {
                        setFailure(error)
                        completion(.failure(error))
                        continue
                    }
                    let directory = log.directory
                    compactor.async {
                        completion(Result {
                            try install()
                            try beforeDropping()
                            try SegmentedLog.dropFiles(directory: directory, before: first)
                        })
                    }
                case .work(let body, let completion):
                    writeAppends(&appends, finishing: false, unsynced: &unsynced, lastSync: &lastSync)
                    if let failure = currentFailure {
                        completion(.failure(failure))
                        continue
                    }
                    do throws(StorageError) {
                        try body()
                        completion(.success(()))
                    } catch {
                        setFailure(error)
                        completion(.failure(error))
                    }
                }
            }
            writeAppends(&appends, finishing: finishing, unsynced: &unsynced, lastSync: &lastSync)
            batch.removeAll(keepingCapacity: true)
            if finishing {
                stopped.signal()
                return
            }
        }
    }
}
