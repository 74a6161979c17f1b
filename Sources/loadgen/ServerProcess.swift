import Foundation
import Wire

/// A server the load generator starts for itself (an echo server, `routerd dev`) and stops
/// at the end, unless the user named one with `--target`.
enum ServerProcess {
    /// The addresses from `--target HOST:PORT[,HOST:PORT…]`, or one server started by `start`.
    static func targets(_ arguments: Arguments, orStart start: () throws -> (Process, SocketAddress)) throws -> ([SocketAddress], Process?) {
        if let text = arguments.string("target") {
            let addresses = try text.split(separator: ",").map {
                guard let address = SocketAddress(String($0)) else { throw Arguments.Failure(description: "--target must be IPv4 HOST:PORT[,HOST:PORT…]") }
                return address
            }
            return (addresses, nil)
        }
        let (process, address) = try start()
        return ([address], process)
    }

    /// The server processes `--pid PID[,…]` names, or else the one started here (none when
    /// neither: a remote target).
    static func pids(_ arguments: Arguments, started: Process?) throws -> [Int32] {
        try arguments.string("pid").map { text in
            try text.split(separator: ",").map {
                guard let pid = Int32($0) else { throw Arguments.Failure(description: "--pid must be PID[,PID…]") }
                return pid
            }
        } ?? started.map { [$0.processIdentifier] } ?? []
    }

    /// Starts `executable` with `arguments` and reads its output until `marker`, which the
    /// server prints right before the HOST:PORT it listens on.
    static func start(_ executable: URL, _ arguments: [String], addressAfter marker: String) throws -> (Process, SocketAddress) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // We hold the write end of its stdin: a server that watches it exits when we do.
        process.standardInput = Pipe()
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains(marker) || !text[text.range(of: marker)!.upperBound...].contains(where: \.isWhitespace) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let address = text.range(of: marker).map { text[$0.upperBound...].prefix { $0.isNumber || $0 == "." || $0 == ":" } }
        guard let address, let parsed = SocketAddress(String(address)) else {
            process.terminate()
            throw Arguments.Failure(description: "\(executable.lastPathComponent) did not start (said: \(text))")
        }
        // Keep reading its output so it never blocks on a full pipe.
        Thread.detachNewThread { while !output.fileHandleForReading.availableData.isEmpty {} }
        return (process, parsed)
    }

    /// This executable, and a sibling from the same build.
    static var ownExecutable: URL { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath() }
    static func sibling(_ name: String) -> URL { ownExecutable.deletingLastPathComponent().appendingPathComponent(name) }
}
