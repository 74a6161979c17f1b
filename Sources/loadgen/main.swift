import Foundation

/// loadgen: drives load against Switchboard nodes on loopback, verifies what comes back,
/// and reports what it measured (human table, optional JSON report).
let usage = """
usage: loadgen <scenario> [options]   (loadgen <scenario> --help for its options)

scenarios:
  codec   encode + decode rate of chat-message frames on one core
  wire    frames/s and round-trip latency against a Wire echo server
  echo    run a Wire echo server (what `wire` measures against)
  routing assignment decisions per second of the router core, deep queues
  log     durable appends per second and append-to-ack latency
  chat    visitors and operators chatting over WebSocket, verified exactly-once in order
  burst   many more chat starts than operator capacity: FIFO and position accuracy
  idle    many idle visitor connections held open: gateway memory per connection
  gossip  SWIM membership with Lifeguard, simulated for many members in one process
"""

// A parent (a test runner, a shell script) may have started us with signals blocked; the
// mask is inherited, and a blocked SIGTERM would leave our echo child running forever.
var noSignals = sigset_t()
sigemptyset(&noSignals)
pthread_sigmask(SIG_SETMASK, &noSignals, nil)

let arguments = Array(CommandLine.arguments.dropFirst())
let scenario = arguments.first ?? "--help"
let rest = Array(arguments.dropFirst())
do {
    let status: Int32
    switch scenario {
    case "codec": status = try CodecScenario.run(rest)
    case "wire": status = try WireScenario.run(rest)
    case "echo": status = try EchoServer.run(rest)
    case "routing": status = try RouterScenario.run(rest)
    case "log": status = try LogScenario.run(rest)
    case "chat": status = try ChatScenario.run(rest)
    case "burst": status = try BurstScenario.run(rest)
    case "idle": status = try IdleScenario.run(rest)
    case "gossip": status = try GossipScenario.run(rest)
    case "idle-worker": status = try IdleScenario.runWorker(rest)
    case "--help", "-h", "help":
        print(usage)
        status = 0
    default:
        FileHandle.standardError.write(Data("loadgen: unknown scenario '\(scenario)'\n\(usage)\n".utf8))
        status = 2
    }
    exit(status)
} catch {
    FileHandle.standardError.write(Data("loadgen \(scenario): \(error)\n".utf8))
    exit(2)
}
