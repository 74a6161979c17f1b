import Foundation
import Glibc

/// What a process holds, read from /proc (for /metrics and for loadgen's reports), and the
/// one limit servers and load generators raise at start.
public enum ProcessResources {
    /// Raises the open-file soft limit to the hard limit and returns it. (Each connection is
    /// a file; the hard limit itself cannot be raised by an ordinary process.)
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }

    /// Resident set size in bytes of `pid` (default: this process), from /proc/<pid>/statm.
    public static func residentBytes(pid: Int32? = nil) -> Int? {
        guard let statm = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/statm", encoding: .utf8) else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Open file descriptors of this process.
    public static func openFileCount() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map(\.count)
    }
}
