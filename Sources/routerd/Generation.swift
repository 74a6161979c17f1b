import Foundation
import Glibc

/// The router's boot counter, kept in `<data>/generation` and raised at every start: with
/// the node id it names this run as a cluster member, so a restarted router is a new member
/// and nobody mistakes it for the one that died. Written to a temporary file, synced and
/// renamed, so a crash leaves the old number or the new one; a lost write would let a
/// restart reuse a generation the others hold dead.
enum Generation {
    static func next(dataDirectory: String) throws -> UInt64 {
        let path = dataDirectory + "/generation"
        var current: UInt64 = 0
        if let data = FileManager.default.contents(atPath: path) {
            guard let value = String(data: data, encoding: .utf8).flatMap({ UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
                throw ConfigError(field: path, problem: "is damaged: it should hold this router's boot counter, a whole number")
            }
            current = value
        }
        let next = current + 1
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ConfigError(field: temporary, problem: "cannot be written (errno \(errno))") }
        let bytes = Array("\(next)\n".utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        let failure = errno  // before close, which may change it
        close(fd)
        guard written == bytes.count, synced else { throw ConfigError(field: path, problem: "cannot be written (errno \(failure))") }
        guard rename(temporary, path) == 0 else { throw ConfigError(field: path, problem: "cannot be renamed into place (errno \(errno))") }
        let directory = open(dataDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            close(directory)
        }
        return next
    }
}
