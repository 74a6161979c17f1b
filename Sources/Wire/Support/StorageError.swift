import Glibc

/// Everything the storage layer refuses, with the file and place.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)
    /// A record in the middle of the log is damaged; nothing after it was applied.
    case corrupt(segment: String, offset: Int, reason: String)
    /// A stored file other than the log (canned responses, engagement settings) is damaged.
    case damagedFile(path: String, reason: String)
    /// A record body could not be decoded as the record type says.
    case undecodable(segment: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case .system(let operation, let path, let errno): "\(operation) \(path): \(String(cString: strerror(errno)))"
        case .corrupt(let segment, let offset, let reason): "log file \(segment) is damaged at byte \(offset): \(reason)"
        case .damagedFile(let path, let reason): "\(path) is damaged: \(reason)"
        case .undecodable(let segment, let offset, let reason): "log segment \(segment), record at byte \(offset): \(reason)"
        }
    }
}
