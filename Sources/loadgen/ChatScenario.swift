import Foundation
import Glibc
import Wire

/// `loadgen chat`: visitors and operators chatting over WebSocket through a gateway, every
/// message checked for exactly-once, in-order delivery.
enum ChatScenario {
    static let usage = """
    loadgen chat: visitors and operators chat through a gateway; verified and measured.

    Each of --conversations visitors opens a WebSocket, starts a chat in sales and, once an
    operator has accepted it, sends messages in a closed loop: --in-flight messages
    outstanding, the next one sent when one is acknowledged (durably, by the router). With
    --rate the load is an open loop instead: messages leave on a fixed schedule, round-robin
    over the conversations, whatever the answers do, and latency counts from the scheduled
    time (so a stall is not hidden by the sender waiting for it).
    Operators accept every offer. Every message carries its visitor's counter and send
    time; the operator side checks that each conversation's messages arrive exactly once
    and in order, with increasing sequence numbers, and records send-to-delivery latency.

    Options:
      --target HOST:PORT  gateway to use (default: start `routerd dev` from the same build,
                          with enough load operators, and stop it at the end)
      --conversations N   concurrent conversations (default 100)
      --in-flight W       messages outstanding per conversation (default 1)
      --rate R            open loop: R messages/s in all, paced every millisecond
      --seconds S         measuring time (default 5)
      --warmup S          time after all chats are accepted, before measuring (default 1)
      --fsync POLICY      for the started routerd: always | interval | none (default always)
      --slo LIST          objectives on the delivery latency, e.g. p99<3ms,p99.9<10ms
      --report FILE       write the JSON report to FILE

    Exit status 1 if a message is lost, duplicated or reordered, a command is refused, or an
    --slo is missed.
    """

    struct Report: Codable {
        var scenario = "chat"
        var environment = Environment()
        var conversations: Int
        var inFlightPerConversation: Int?
        var targetRate: Double?
        var fsync: String?
        var seconds: Double
        var messagesDelivered: Int
        var messagesPerSecond: Double
        var deliveryLatencyMicroseconds: LatencySummary
        var ackLatencyMicroseconds: LatencySummary
        var lost: Int
        var duplicated: Int
        var reordered: Int
        var errors: [String: Int]
        var loadgenCPUSeconds: Double
        var serverCPUSeconds: Double?
        var slo: [SLOResult]
    }

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["target", "conversations", "in-flight", "rate", "seconds", "warmup", "fsync", "slo", "report"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let conversations = try arguments.int("conversations", default: 100, range: 1...15_000)
        let inFlight = try arguments.int("in-flight", default: 1, range: 1...1000)
        let seconds = try arguments.double("seconds", default: 5)
        let warmup = try arguments.double("warmup", default: 1)
        let fsync = arguments.string("fsync") ?? "always"
        let rate = arguments.string("rate") == nil ? nil : try arguments.double("rate", default: 1)
        let objectives = try arguments.string("slo").map(ServiceLevelObjective.parseList) ?? []
        ProcessResources.raiseOpenFileLimit()
        let operatorCount = (conversations + 9) / 10

        let (target, child) = try ServerProcess.target(arguments) { try startRouterd(loadOperators: operatorCount, fsync: fsync) }
        defer { child?.terminate() }
        let tokens = try loadOperatorTokens(count: operatorCount, at: target)

        let group = EventLoopGroup(loopCount: 1, name: "loadgen")
        let loop = group.loops[0]
        let world = try loop.submitAndWait { UncheckedBox(ChatWorld(loop: loop, inFlight: rate == nil ? inFlight : 0)) }
        let progress = world.value.progress
        try loop.submitAndWait {
            for (n, token) in tokens.enumerated() { world.value.addOperator(token: token, address: target, seed: UInt64(n)) }
        }
        guard progress.wait(seconds: 30, until: { $0.operatorsOnline == operatorCount }) else {
            throw Arguments.Failure(description: "only \(progress.read { $0.operatorsOnline }) of \(operatorCount) operators came online")
        }
        try loop.submitAndWait {
            for n in 0..<conversations { world.value.addVisitor(address: target, seed: UInt64(10_000 + n)) }
        }
        guard progress.wait(seconds: 60, until: { $0.chatsActive == conversations }) else {
            throw Arguments.Failure(description: "only \(progress.read { $0.chatsActive }) of \(conversations) chats became active")
        }
        print("\(conversations) chats active with \(operatorCount) operators; warming up \(warmup) s")
        if let rate { try loop.submitAndWait { world.value.startPacing(messagesPerSecond: rate) } }
        Thread.sleep(forTimeInterval: warmup)
        try loop.submitAndWait { world.value.resetMeasurements() }
        let cpuBefore = ProcessStats.ownCPUSeconds()
        let serverBefore = child.flatMap { ProcessStats.cpuSeconds(pid: $0.processIdentifier) }
        let start = MonotonicClock.now()
        try ProgressLine.sleep(seconds) {
            let (delivered, p99) = try loop.submitAndWait { (world.value.delivered, world.value.deliveryP99) }
            return String(format: "%d messages delivered, p99 so far %.0f us", delivered, Double(p99) / 1000)
        }
        let elapsed = Double(MonotonicClock.now() - start) / 1e9
        let cpu = ProcessStats.ownCPUSeconds() - cpuBefore
        let serverCPU = child.flatMap { ProcessStats.cpuSeconds(pid: $0.processIdentifier) }.map { $0 - (serverBefore ?? 0) }
        // Stop sending, let what is in flight arrive, then compare acknowledged with delivered.
        // The acknowledgement leaves the router before the event does, so wait for both: a
        // message is lost only if it is still missing after the drain.
        try loop.submitAndWait { world.value.stopSending() }
        _ = progress.wait(seconds: 10) { $0.outstanding == 0 }
        let drainStart = MonotonicClock.now()
        while try loop.submitAndWait({ world.value.undelivered }) > 0, MonotonicClock.now() - drainStart < 10_000_000_000 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let result = try loop.submitAndWait { world.value.result(elapsed: elapsed) }
        try loop.submitAndWait { world.value.closeAll() }

        let slo = SLOResult.check(objectives, against: result.delivery, what: "delivery latency")
        let report = Report(conversations: conversations, inFlightPerConversation: rate == nil ? inFlight : nil, targetRate: rate,
                            fsync: child == nil ? nil : fsync,
                            seconds: (elapsed * 100).rounded() / 100, messagesDelivered: result.delivered,
                            messagesPerSecond: (Double(result.delivered) / elapsed).rounded(),
                            deliveryLatencyMicroseconds: LatencySummary(result.delivery), ackLatencyMicroseconds: LatencySummary(result.ack),
                            lost: result.lost, duplicated: result.duplicated, reordered: result.reordered, errors: result.errors,
                            loadgenCPUSeconds: (cpu * 100).rounded() / 100, serverCPUSeconds: serverCPU.map { ($0 * 100).rounded() / 100 }, slo: slo)
        let l = report.deliveryLatencyMicroseconds
        let load = rate.map { String(format: "paced at %.0f/s", $0) } ?? "x \(inFlight) in flight"
        print(String(format: "%d conversations %@: %.0f messages/s delivered; latency us p50 %.0f p90 %.0f p99 %.0f p99.9 %.0f max %.0f",
                     conversations, load, report.messagesPerSecond, l.p50, l.p90, l.p99, l.p999, l.max))
        print("lost \(result.lost), duplicated \(result.duplicated), reordered \(result.reordered), errors \(result.errors); cpu loadgen \(report.loadgenCPUSeconds) s, server \(report.serverCPUSeconds.map { "\($0) s" } ?? "n/a")")
        try writeReport(report, to: arguments.string("report"))
        return result.lost == 0 && result.duplicated == 0 && result.reordered == 0 && result.errors.isEmpty && slo.allSatisfy(\.met) ? 0 : 1
    }

    /// Starts `routerd dev` (next to this binary) on free ports and returns its gateway address.
    static func startRouterd(loadOperators: Int, fsync: String, capacity: Int = 10) throws -> (Process, SocketAddress) {
        try ServerProcess.start(ServerProcess.sibling("routerd"),
                                ["dev", "--http", "127.0.0.1:0", "--wire", "127.0.0.1:0", "--fsync", fsync, "--load-operators",
                                 String(loadOperators), "--load-capacity", String(capacity), "--message-rate", "1000000"],
                                addressAfter: "msg=\"gateway listening\" http=http://")
    }

    /// Logs the load operators of `routerd dev` in (its demo password login) and returns their tokens.
    static func loadOperatorTokens(count: Int, at target: SocketAddress) throws -> [String] {
        try (0..<count).map { n in
            let body = try HTTPClient.post(target, path: "/api/login", json: ["site": "shop", "operator": "load-\(n)", "password": "load-demo"])
            guard let token = body["token"] as? String else { throw Arguments.Failure(description: "login of load-\(n) failed: \(body)") }
            return token
        }
    }
}

/// Progress the control thread waits on.
struct ChatProgress: Sendable {
    var operatorsOnline = 0
    var chatsActive = 0
    var outstanding = 0
}

/// All simulated visitors and operators, on one loop.
final class ChatWorld {
    let loop: EventLoop
    let inFlight: Int
    let progress = Shared(ChatProgress())
    private(set) var sending = true
    private var operators: [OperatorBot] = []
    private var visitors: [VisitorBot] = []
    /// Per conversation: the next counter the operator side expects.
    private var expected: [String: Int] = [:]
    private var lastSequence: [String: Int] = [:]
    private(set) var delivered = 0
    private var acknowledged = 0
    private var duplicated = 0
    private var reordered = 0
    private var errors: [String: Int] = [:]
    private var delivery = Histogram()
    private var ack = Histogram()

    init(loop: EventLoop, inFlight: Int) {
        self.loop = loop
        self.inFlight = inFlight
    }

    func addOperator(token: String, address: SocketAddress, seed: UInt64) {
        let bot = OperatorBot(world: self, token: token, address: address, seed: seed)
        operators.append(bot)
        bot.connect(loop: loop)
    }

    func addVisitor(address: SocketAddress, seed: UInt64) {
        let bot = VisitorBot(world: self, address: address, seed: seed)
        visitors.append(bot)
        bot.connect(loop: loop)
    }

    /// The delivery latency's 99th percentile so far (for the progress line).
    var deliveryP99: UInt64 { delivery.value(atPercentile: 99) }

    // MARK: open loop

    private var pacingStart: UInt64 = 0
    private var pacedSent = 0
    private var pacingRate = 0.0
    private var nextVisitor = 0

    /// Sends `messagesPerSecond` in all from now on, on a schedule checked every millisecond,
    /// each message stamped with the time it was due (not when it left).
    func startPacing(messagesPerSecond: Double) {
        pacingRate = messagesPerSecond
        pacingStart = MonotonicClock.now()
        pace()
    }

    private func pace() {
        guard sending else { return }
        let now = MonotonicClock.now()
        let due = Int(Double(now - pacingStart) * pacingRate / 1e9)
        while pacedSent < due {
            let scheduled = pacingStart + UInt64(Double(pacedSent) * 1e9 / pacingRate)
            nextVisitor = (nextVisitor + 1) % visitors.count
            visitors[nextVisitor].sendPaced(scheduledAt: scheduled)
            pacedSent += 1
        }
        loop.scheduleTimer(at: now + 1_000_000) { [weak self] in self?.pace() }
    }

    func resetMeasurements() {
        delivered = 0
        acknowledged = 0
        delivery = Histogram()
        ack = Histogram()
    }

    func operatorOnline() { progress.update { $0.operatorsOnline += 1 } }
    func chatActive() { progress.update { $0.chatsActive += 1 } }
    /// Messages sent and not yet acknowledged; counted on the loop, published only while
    /// draining (a lock and a wake-up per message would load the generator itself).
    private var outstanding = 0

    func outstandingChanged(_ delta: Int) {
        outstanding += delta
        if !sending { progress.update { $0.outstanding = outstanding } }
    }

    /// Stops new messages; the control thread then waits for the outstanding ones.
    func stopSending() {
        sending = false
        progress.update { $0.outstanding = outstanding }
    }

    func error(_ code: String) { errors[code, default: 0] += 1 }

    func acknowledged(after nanoseconds: UInt64) {
        acknowledged += 1
        ack.record(nanoseconds)
    }

    /// The operator side received a visitor's message `counter` with `sequence`, sent at `sentAt`.
    func deliveredToOperator(conversation: String, counter: Int, sequence: Int, sentAt: UInt64) {
        let want = expected[conversation, default: 0]
        if counter < want {
            duplicated += 1
        } else if counter > want {
            reordered += 1
        }
        expected[conversation] = max(want, counter + 1)
        if sequence <= lastSequence[conversation, default: 0] { reordered += 1 }
        lastSequence[conversation] = sequence
        delivered += 1
        delivery.record(MonotonicClock.now() &- sentAt)
    }

    /// Acknowledged messages the operators have not received (yet).
    var undelivered: Int {
        visitors.reduce(0) { sum, visitor in
            guard let conversation = visitor.conversation else { return sum }
            return sum + max(0, visitor.acknowledgedCount - expected[conversation, default: 0])
        }
    }

    /// Messages the visitors had acknowledged that never reached the operators.
    func result(elapsed: Double) -> (delivered: Int, lost: Int, duplicated: Int, reordered: Int, errors: [String: Int], delivery: Histogram, ack: Histogram) {
        (delivered, undelivered, duplicated, reordered, errors, delivery, ack)
    }

    func closeAll() {
        for bot in operators { bot.client?.close() }
        for bot in visitors { bot.client?.close() }
    }
}

/// An operator who accepts every offer and checks what their chats deliver.
final class OperatorBot: WebSocketClientDelegate {
    private unowned let world: ChatWorld
    private let token: String
    private let address: SocketAddress
    private let seed: UInt64
    var client: WebSocketClient?

    init(world: ChatWorld, token: String, address: SocketAddress, seed: UInt64) {
        (self.world, self.token, self.address, self.seed) = (world, token, address, seed)
    }

    func connect(loop: EventLoop) {
        client = WebSocketClient.open(to: address, seed: seed, delegate: self, on: loop)
    }

    func webSocketDidOpen(_ client: WebSocketClient) {
        client.send(["type": "hello", "token": token])
    }

    func webSocket(_ client: WebSocketClient, didReceive json: [String: Any]) {
        switch json["type"] as? String {
        case "welcome":
            client.send(["type": "status", "status": "online"])
        case "accepted" where json["conversation"] == nil:
            if !onlineReported {
                onlineReported = true
                world.operatorOnline()
            }
        case "offer":
            if let conversation = json["conversation"] as? String { client.send(["type": "accept", "conversation": conversation]) }
        case "message":
            guard (json["author"] as? [String: Any])?["kind"] as? String == "visitor", let text = json["text"] as? String,
                  let conversation = json["conversation"] as? String, let sequence = json["sequence"] as? Int else { return }
            let parts = text.split(separator: " ")
            guard parts.count >= 2, let counter = Int(parts[0]), let sentAt = UInt64(parts[1]) else { return }
            world.deliveredToOperator(conversation: conversation, counter: counter, sequence: sequence, sentAt: sentAt)
        case "error":
            world.error(json["code"] as? String ?? "?")
        default:
            break
        }
    }

    private var onlineReported = false

    func webSocketDidClose(_ client: WebSocketClient) {}
}

/// A visitor who starts a chat and, once it is active, keeps `inFlight` messages outstanding.
final class VisitorBot: WebSocketClientDelegate {
    private unowned let world: ChatWorld
    private let address: SocketAddress
    private let seed: UInt64
    var client: WebSocketClient?
    private(set) var conversation: String?
    private var counter = 0
    private(set) var acknowledgedCount = 0
    private var sentAt: [String: UInt64] = [:]
    private var active = false

    init(world: ChatWorld, address: SocketAddress, seed: UInt64) {
        (self.world, self.address, self.seed) = (world, address, seed)
    }

    func connect(loop: EventLoop) {
        client = WebSocketClient.open(to: address, seed: seed, delegate: self, on: loop)
    }

    func webSocketDidOpen(_ client: WebSocketClient) {
        client.send(["type": "hello", "site": "shop"])
    }

    func webSocket(_ client: WebSocketClient, didReceive json: [String: Any]) {
        switch json["type"] as? String {
        case "welcome":
            client.send(["type": "start", "requestId": "chat", "department": "sales"])
        case "accepted":
            if conversation == nil, let id = json["conversation"] as? String, json["requestId"] as? String == "chat" {
                conversation = id
            } else if let id = json["conversation"] as? String, id == conversation, json["sequence"] != nil {
                acknowledgedCount += 1
                world.outstandingChanged(-1)
                // The answer to a send names its client message id.
                if let key = json["requestId"] as? String, let sent = sentAt.removeValue(forKey: key) {
                    world.acknowledged(after: MonotonicClock.now() &- sent)
                }
                if world.sending && world.inFlight > 0 { sendNext(client) }
            }
        case "assigned":
            guard !active else { return }
            active = true
            world.chatActive()
            for _ in 0..<world.inFlight { sendNext(client) }
        case "error":
            world.error(json["code"] as? String ?? "?")
        default:
            break
        }
    }

    func webSocketDidClose(_ client: WebSocketClient) {
        if world.sending { world.error("connection_closed") }
    }

    /// An open-loop message, due at `scheduledAt` (sent only once the chat is active).
    func sendPaced(scheduledAt: UInt64) {
        guard active, let client else { return }
        sendNext(client, stamp: scheduledAt)
    }

    /// The text carries the counter and the send time, which the operator side reads back.
    private func sendNext(_ client: WebSocketClient, stamp: UInt64 = MonotonicClock.now()) {
        guard let conversation else { return }
        sentAt["m\(counter)"] = stamp
        client.send(["type": "send", "conversation": conversation, "clientMessageId": "m\(counter)", "text": "\(counter) \(stamp) hello"])
        counter += 1
        world.outstandingChanged(1)
    }
}

/// Blocking HTTP/1.1 requests over a plain socket (set-up and /metrics only, never measured).
enum HTTPClient {
    /// POSTs `json` and returns the JSON object answered.
    static func post(_ address: SocketAddress, path: String, json: [String: Any]) throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: json)
        let answer = try request(address, "POST \(path) HTTP/1.1\r\nHost: \(address)\r\nContent-Type: application/json\r\n"
                                 + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n", body: [UInt8](body))
        guard let object = try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any] else {
            throw Arguments.Failure(description: "unexpected response to POST \(path)")
        }
        return object
    }

    /// GETs `path` and returns the body as text.
    static func get(_ address: SocketAddress, path: String) throws -> String {
        String(decoding: try request(address, "GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n", body: []), as: UTF8.self)
    }

    /// A Prometheus gauge or counter from a node's /metrics.
    static func metric(_ name: String, at address: SocketAddress) throws -> Double? {
        try get(address, path: "/metrics").split(separator: "\n").lazy
            .compactMap { line -> Double? in line.hasPrefix(name + " ") ? Double(line.dropFirst(name.count + 1)) : nil }.first
    }

    /// Sends one request on a new connection and returns the response body.
    private static func request(_ address: SocketAddress, _ head: String, body: [UInt8]) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Arguments.Failure(description: "socket failed") }
        defer { Glibc.close(fd) }
        let connected = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        guard connected == 0 else { throw Arguments.Failure(description: "cannot connect to \(address)") }
        let bytes = Array(head.utf8) + body
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        guard let end = response.firstRange(of: [13, 10, 13, 10]) else { throw Arguments.Failure(description: "no HTTP response from \(address)") }
        return Array(response[end.upperBound...])
    }
}
