import Foundation
import Glibc

/// The file calls of every store (the router's log and transcripts, the control plane's
/// Raft log), in one place:
/// every failure is a `StorageError` naming the file, writes go on until every byte is
/// written, and new files are made durable together with their directory entry.
public enum DurableFile {
    /// Creates `path` as a directory unless it exists.
    public static func makeDirectory(_ path: String) throws(StorageError) {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw .system(operation: "mkdir", path: path, errno: errno) }
    }

    /// Opens `path` for appending, creating it if needed; `created` says whether it is new
    /// (its directory must then be synced too).
    public static func openForAppend(_ path: String) throws(StorageError) -> (fd: Int32, created: Bool) {
        let existed = access(path, F_OK) == 0
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        return (fd, !existed)
    }

    /// Opens a log file (a segment, a transcript day file) for appending; a new or empty
    /// file first gets `header` (the format's magic and version). Returns the descriptor,
    /// the file's size and whether it is new (its directory must then be synced too).
    public static func openLogFile(_ path: String, header: [UInt8]) throws(StorageError) -> (fd: Int32, size: Int, created: Bool) {
        let (fd, created) = try openForAppend(path)
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            Glibc.close(fd)
            throw .system(operation: "fstat", path: path, errno: errno)
        }
        var size = Int(info.st_size)
        if size == 0 {
            do {
                try writeAll(fd, header, path: path)
            } catch {
                Glibc.close(fd)
                throw error
            }
            size = header.count
        }
        return (fd, size, created)
    }

    /// Writes all of `bytes` (a write may take only part of them).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(StorageError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", path: path, errno: errno)
            }
            written += result
        }
    }

    /// Makes the file's data durable.
    public static func syncData(_ fd: Int32, path: String) throws(StorageError) {
        guard fdatasync(fd) == 0 else { throw .system(operation: "fdatasync", path: path, errno: errno) }
    }

    /// Makes a directory's entries durable (a new file's name, a deletion).
    public static func syncDirectory(_ path: String) {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        Glibc.close(fd)
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old or the new file,
    /// never a part: written to a temporary name, synced, renamed, directory synced.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(StorageError) {
        let temporary = path + ".tmp"
        let fd = try createTemporary(temporary)
        defer { Glibc.close(fd) }
        try writeAll(fd, bytes, path: temporary)
        try install(fd, temporary: temporary, as: path)
    }

    /// Creates (or empties) `temporary` for writing; its contents become a file's with `install`.
    public static func createTemporary(_ temporary: String) throws(StorageError) -> Int32 {
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .system(operation: "open", path: temporary, errno: errno) }
        return fd
    }

    /// Syncs what was written to `temporary` and renames it to `path`, directory synced:
    /// a crash leaves the old file or the new one, never a part.
    public static func install(_ fd: Int32, temporary: String, as path: String) throws(StorageError) {
        try syncData(fd, path: temporary)
        guard rename(temporary, path) == 0 else { throw .system(operation: "rename", path: temporary, errno: errno) }
        syncDirectory(path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ".")
    }

    /// A whole file's bytes.
    public static func read(_ path: String) throws(StorageError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw .system(operation: "read", path: path, errno: errno) }
        return [UInt8](data)
    }

    /// `count` bytes of a file from `offset` (fewer only at its end).
    public static func read(_ path: String, offset: Int, count: Int) throws(StorageError) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if result < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "read", path: path, errno: errno)
            }
            if result == 0 { break }
            done += result
        }
        return Array(bytes[..<done])
    }

    /// Cuts a file to `size` bytes.
    public static func truncate(_ path: String, to size: Int) throws(StorageError) {
        guard Glibc.truncate(path, off_t(size)) == 0 else { throw .system(operation: "truncate", path: path, errno: errno) }
    }

    /// The names in a directory ending with `suffix`, sorted.
    public static func files(in directory: String, suffix: String) throws(StorageError) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw .system(operation: "list", path: directory, errno: errno)
        }
        return names.filter { $0.hasSuffix(suffix) }.sorted()
    }
}
