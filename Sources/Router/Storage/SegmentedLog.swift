import CLinux
import Foundation
import Glibc
import Wire

/// A directory of append-only segment files `<first record number>.log`, written in order.
/// Logs written before partitions had their own snapshots may also hold snapshot files,
/// `<first record number>.snapshot.log`: the records that rebuild the state as it was
/// before segment `<first>`, replayed before it (read, no longer written).
/// Not thread-safe: `DurableLog` drives it from its writer thread (`dropFiles`, a static
/// function, runs on another thread: it touches only files older than the current one).
///
/// Opening scans every segment. A record cut short at the very end of the last segment is
/// a write that never completed (it was never acknowledged): it is truncated away and
/// reported. Damage anywhere else (a checksum that does not match, an impossible length)
/// stops the open with `StorageError.corrupt`, naming the segment and byte, and nothing
/// after it is applied; `repair: true` truncates the log there instead.
public final class SegmentedLog {
    /// What opening found.
    public struct Recovery: Sendable {
        /// Every valid record, in order.
        public var records: [LogFraming.Record]
        /// Bytes cut from the end of the last segment (an incomplete final write), if any.
        public var truncatedBytes: Int
        /// Damage found and truncated because `repair` was set.
        public var repaired: StorageError?
    }

    /// The directory.
    public let directory: String
    /// A segment is closed and a new one started once it passes this size.
    public let segmentBytes: Int
    private var fd: Int32 = -1
    private var segmentSize = 0
    private var nextRecord: UInt64 = 0
    private var scratch = ByteWriter(capacity: 1 << 16)

    private init(directory: String, segmentBytes: Int) {
        self.directory = directory
        self.segmentBytes = segmentBytes
    }

    /// Opens (creating if needed) the log in `directory` and returns it with its recovered records.
    public static func open(directory: String, segmentBytes: Int = 64 << 20, repair: Bool = false) throws(StorageError) -> (SegmentedLog, Recovery) {
        let log = SegmentedLog(directory: directory, segmentBytes: segmentBytes)
        let recovery = try log.recoverAndOpen(repair: repair)
        return (log, recovery)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Number of records in the log (the next record's number).
    public var recordCount: UInt64 { nextRecord }

    /// Appends framed records to the current segment (buffered by the kernel until `sync`).
    public func append(_ records: [(type: UInt8, body: [UInt8])]) throws(StorageError) {
        scratch.clear()
        for record in records { LogFraming.append(type: record.type, body: record.body, to: &scratch) }
        if segmentSize > LogFraming.fileHeader.count && segmentSize + scratch.count > segmentBytes { try startSegment(first: nextRecord) }
        try DurableFile.writeAll(fd, scratch.bytes, path: currentPath)
        segmentSize += scratch.count
        nextRecord += UInt64(records.count)
    }

    /// Makes everything appended so far durable.
    public func sync() throws(StorageError) {
        try DurableFile.syncData(fd, path: currentPath)
    }

    /// The first half of a compaction: syncs and closes the current segment and starts a
    /// new one, whose first record number it returns. Appends go on into the new segment
    /// while the partitions' snapshots are written on another thread; `dropFiles` then
    /// deletes the segments before it.
    public func roll() throws(StorageError) -> UInt64 {
        let first = nextRecord
        try startSegment(first: first)
        return first
    }

    /// The second half of a compaction, on any thread, once what replaces them is durable
    /// (the partitions' snapshots): deletes every segment, and every snapshot of the kind
    /// logs held before partitions had their own, older than segment `before`. The appender
    /// is never held up. A crash part way leaves some of them: replay skips what the
    /// partitions' snapshots cover.
    public static func dropFiles(directory: String, before first: UInt64) throws(StorageError) {
        for file in try logFiles(in: directory) where file.first < first {
            unlink(directory + "/" + file.name)
        }
        DurableFile.syncDirectory(directory)
    }

    /// Every valid record in `directory`, in order, read without changing a file: a torn
    /// tail of the last segment ends the read (it was never acknowledged); damage anywhere
    /// else throws `StorageError.corrupt`, as opening would.
    public static func read(directory: String) throws(StorageError) -> [LogFraming.Record] {
        let files = try logFiles(in: directory)
        var records: [LogFraming.Record] = []
        for (position, file) in files.enumerated() {
            let path = directory + "/" + file.name
            let bytes = try DurableFile.read(path)
            let (found, stop) = bytes.withUnsafeBytes { LogFraming.scanFile($0) }
            records += found
            switch stop {
            case .end: break
            case .torn where position == files.count - 1 && !file.isSnapshot: break
            case .torn(let offset): throw .corrupt(segment: path, offset: offset, reason: "segment ends inside a record")
            case .corrupt(let offset, let reason): throw .corrupt(segment: path, offset: offset, reason: reason)
            }
        }
        return records
    }

    /// How a snapshot file's name ends.
    static let snapshotSuffix = ".snapshot.log"

    // MARK: internals

    private var currentPath = ""

    private func recoverAndOpen(repair: Bool) throws(StorageError) -> Recovery {
        try DurableFile.makeDirectory(directory)
        // A snapshot cut short by a crash was never renamed into place: it never counted.
        for stale in try DurableFile.files(in: directory, suffix: ".tmp") { unlink(directory + "/" + stale) }
        let segments = try Self.logFiles(in: directory)
        var records: [LogFraming.Record] = []
        var truncated = 0
        var repaired: StorageError?
        var lastKept: (name: String, isSnapshot: Bool)?
        for (position, segment) in segments.enumerated() {
            lastKept = (segment.name, segment.isSnapshot)
            let path = directory + "/" + segment.name
            let bytes = try DurableFile.read(path)
            let (found, stop) = bytes.withUnsafeBytes { LogFraming.scanFile($0) }
            records += found
            // Numbers go on from the highest any file reaches, so a new segment's name always
            // sorts after the files already there (after a compaction the log holds fewer
            // records than its segments' names count).
            nextRecord = max(nextRecord, segment.first + UInt64(found.count))
            // Only an append can be cut short; a snapshot is renamed into place once whole.
            let isLast = position == segments.count - 1 && !segment.isSnapshot
            // A file of another format is not damaged: cutting it would empty the log.
            let foreign = bytes.withUnsafeBytes(LogFraming.isForeignFile)
            var damage: (offset: Int, reason: String)?
            switch stop {
            case .end:
                break
            case .torn(let offset) where isLast:
                try DurableFile.truncate(path, to: offset)
                truncated = bytes.count - offset
            case .torn(let offset):
                damage = (offset, "segment ends inside a record")
            case .corrupt(let offset, let reason) where foreign:
                damage = (offset, reason + "; --repair will not cut it: start the build that wrote it")
            case .corrupt(let offset, let reason):
                damage = (offset, reason + "; \(bytes.count - offset) bytes from there on (and \(segments.count - position - 1) later segments) are what --repair cuts")
            }
            if let damage {
                let error = StorageError.corrupt(segment: path, offset: damage.offset, reason: damage.reason)
                guard repair, !foreign else { throw error }
                try DurableFile.truncate(path, to: damage.offset)
                repaired = error
                // Later segments follow the damage: they cannot be trusted to be in order.
                for later in segments[(position + 1)...] { unlink(directory + "/" + later.name) }
                break
            }
        }
        if let lastKept, !lastKept.isSnapshot {
            try openSegment(directory + "/" + lastKept.name)
        } else {
            try startSegment(first: nextRecord)
        }
        return Recovery(records: records, truncatedBytes: truncated, repaired: repaired)
    }

    /// The segments and snapshots in replay order: by first record number, a snapshot
    /// before the segment it precedes.
    private static func logFiles(in directory: String) throws(StorageError) -> [(name: String, first: UInt64, isSnapshot: Bool)] {
        try DurableFile.files(in: directory, suffix: ".log").compactMap { name -> (String, UInt64, Bool)? in
            if name.hasSuffix(snapshotSuffix) { return UInt64(name.dropLast(snapshotSuffix.count)).map { (name, $0, true) } }
            return UInt64(name.dropLast(4)).map { (name, $0, false) }
        }.sorted { ($0.1, $0.2 ? 0 : 1) < ($1.1, $1.2 ? 0 : 1) }
    }

    private func startSegment(first: UInt64) throws(StorageError) {
        if fd >= 0 {
            try sync()
            Glibc.close(fd)
            fd = -1
        }
        let path = directory + "/" + String(format: "%020llu.log", first)
        try openSegment(path)
        // The new file's directory entry must be durable too, or a crash could lose the file.
        DurableFile.syncDirectory(directory)
    }

    private func openSegment(_ path: String) throws(StorageError) {
        let file = try DurableFile.openLogFile(path, header: LogFraming.fileHeader)
        fd = file.fd
        currentPath = path
        segmentSize = file.size
    }
}
