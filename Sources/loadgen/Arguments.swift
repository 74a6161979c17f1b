/// A minimal `--option value` parser (plus valueless `--switch`es): every flag must be
/// known, every value must parse, and a mistake names the flag.
struct Arguments {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private var values: [String: String] = [:]
    private var switchesSet: Set<String> = []
    private(set) var wantsHelp = false

    init(_ raw: [String], known: Set<String>, switches: Set<String> = []) throws {
        var index = 0
        while index < raw.count {
            let flag = raw[index]
            if flag == "--help" || flag == "-h" {
                wantsHelp = true
                index += 1
                continue
            }
            if flag.hasPrefix("--"), switches.contains(String(flag.dropFirst(2))) {
                switchesSet.insert(String(flag.dropFirst(2)))
                index += 1
                continue
            }
            // `--duration` is what the issue and ops teams say; the scenarios call it --seconds.
            let name = flag == "--duration" ? "seconds" : String(flag.dropFirst(2))
            guard flag.hasPrefix("--"), known.contains(name) else {
                throw Failure(description: "unknown option \(flag)")
            }
            guard index + 1 < raw.count else { throw Failure(description: "\(flag) needs a value") }
            values[name] = raw[index + 1]
            index += 2
        }
    }

    func string(_ name: String) -> String? { values[name] }

    /// Whether the valueless switch `--name` was given.
    func flag(_ name: String) -> Bool { switchesSet.contains(name) }

    func int(_ name: String, default fallback: Int, range: ClosedRange<Int> = 0...Int.max) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw Failure(description: "--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got \(text)")
        }
        return value
    }

    func double(_ name: String, default fallback: Double) throws -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value > 0 else { throw Failure(description: "--\(name) must be a positive number, got \(text)") }
        return value
    }
}
