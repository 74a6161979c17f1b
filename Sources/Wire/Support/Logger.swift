import Foundation

/// A small structured logger: one line per event, `ts=… level=… msg="…" key=value …`, on
/// standard output (a supervisor collects it). A value type the libraries take from their
/// host and never build themselves; messages below `minimumLevel` are never formatted
/// (the message and fields are autoclosures).
public struct Logger: Sendable {
    /// Severity, lowest first.
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warning, error

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        var name: String {
            switch self {
            case .debug: "debug"
            case .info: "info"
            case .warning: "warning"
            case .error: "error"
            }
        }
    }

    /// What emits this logger's lines (`router`, `gateway`), written as `component=`.
    public var label: String
    /// Lines below this level are dropped.
    public var minimumLevel: Level

    /// A logger for `label`, `info` and above by default.
    public init(label: String, minimumLevel: Level = .info) {
        (self.label, self.minimumLevel) = (label, minimumLevel)
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        log(.debug, message(), fields())
    }

    public func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        log(.info, message(), fields())
    }

    public func warning(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        log(.warning, message(), fields())
    }

    public func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        log(.error, message(), fields())
    }

    /// Writes one line if `level` is enabled.
    public func log(_ level: Level, _ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        guard level >= minimumLevel else { return }
        log(level, message(), fields: fields().map { ($0.key, $0.value) })
    }

    /// Writes one line with fields built at run time.
    public func log(_ level: Level, _ message: String, fields: [(String, String)]) {
        guard level >= minimumLevel else { return }
        Self.write(Self.line(time: Self.timestamp(), level: level, component: label, message: message, fields: fields))
    }

    /// The line's text (without the newline): fields quoted when they hold a space, a
    /// quote or an `=`, so a line always splits back into its fields.
    static func line(time: String, level: Level, component: String, message: String, fields: [(String, String)]) -> String {
        var text = "ts=\(time) level=\(level.name) component=\(component) msg=\(quoted(message, always: true))"
        for (key, value) in fields { text += " \(key)=\(quoted(value, always: false))" }
        return text
    }

    private static func quoted(_ value: String, always: Bool) -> String {
        guard always || value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
        return "\"\(escaped)\""
    }

    /// One formatter for the process: building an `ISO8601DateFormatter` costs far more
    /// than formatting with one. It is not documented as thread-safe, hence the lock.
    private static let formatter = Shared(UncheckedBox(ISO8601DateFormatter()))

    private static func timestamp() -> String {
        formatter.read { $0.value.string(from: Date()) }
    }

    private static let output = Shared(())

    private static func write(_ line: String) {
        output.read { _ in
            print(line)
            fflush(nil)  // every stream: stdout may be a pipe to a supervisor
        }
    }
}
