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

    /// One append request.
    private struct Request {
        var records: [(type: UInt8, body: [UInt8])]
        var completion: @Sendable (Result<UInt64, StorageError>) -> Void
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
        pending.append(Request(records: records, completion: completion))
        condition.signal()
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

            let before = log.recordCount
            var result: Result<Void, StorageError> = .success(())
            do throws(StorageError) {
                if !batch.isEmpty {
                    try log.append(batch.flatMap(\.records))
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
                condition.lock()
                failure = error
                condition.unlock()
            }
            // Each request learns the number of its own last record.
            var count = before
            for request in batch {
                count += UInt64(request.records.count)
                let own = count - 1
                request.completion(result.map { own })
            }
            batch.removeAll(keepingCapacity: true)
            if finishing {
                stopped.signal()
                return
            }
        }
    }
}
