import Foundation
import Wire

/// Progress the control thread waits on.
struct ChatProgress: Sendable {
    var operatorsOnline = 0
    var chatsActive = 0
    var outstanding = 0
}

/// One direction of one conversation's messages: what the sender sent and had
/// acknowledged, and what the receiver got. Messages carry their counter and send time.
struct MessageStream {
    /// The next counter to send.
    var nextCounter = 0
    /// Acknowledged by the router (durably stored).
    var acknowledged = 0
    /// Send (or due) times of messages not yet acknowledged, by client message id.
    var sentAt: [String: UInt64] = [:]
    /// The receiver's next expected counter (= messages delivered in order).
    var expected = 0
    /// The last sequence number the receiver saw in this direction.
    var lastSequence = 0
    /// The chat is ending: no more sends, refusals are expected.
    var closing = false
}

/// Which way a stream goes.
enum Side: String {
    case visitor = "v", `operator` = "o"
}

/// All simulated visitors and operators, on one loop. Both sides send: with `inFlight` > 0
/// each side of each chat keeps that many messages outstanding (closed loop); with pacing,
/// the world sends on a schedule, alternating sides. Every message's delivery is checked.
final class ChatWorld {
    struct Key: Hashable {
        var conversation: String
        var side: Side
    }

    let loop: EventLoop
    let inFlight: Int
    /// Chats end after this many visitor messages and the visitor starts a new one (0: never).
    let messagesPerChat: Int
    /// How long operators wait before accepting an offer.
    let acceptDelay: UInt64
    /// The departments visitors ask for, in turn (each visitor's chats rotate through them).
    let departments: [String]
    let progress = Shared(ChatProgress())
    private(set) var sending = true
    private var operators: [OperatorBot] = []
    private var visitors: [VisitorBot] = []
    private var streams: [Key: MessageStream] = [:]
    /// Chats in progress, for pacing: each side once active.
    private var activeSides: [Key: WebSocketClient] = [:]
    private var pacingOrder: [Key] = []
    /// Deliveries in the measuring window (and those drained after it).
    private var tally = DeliveryTally()
    var delivered: Int { tally.delivered }
    private var duplicated = 0
    private var reordered = 0
    private var errors: [String: Int] = [:]
    private var ack = Histogram()
    /// Chat timings: start sent, offer received, first operator message received.
    private var startedAt: [String: UInt64] = [:]
    private var offeredAt: [String: UInt64] = [:]
    private var firstReplyAt: [String: UInt64] = [:]
    private var measuringSince: UInt64 = 0
    private(set) var chatsStarted = 0
    private(set) var chatsEnded = 0
    /// Messages refused because their chat had just ended (never acknowledged, so not lost).
    private(set) var refusedAtChatEnd = 0

    init(loop: EventLoop, inFlight: Int, messagesPerChat: Int, acceptDelay: UInt64, departments: [String]) {
        (self.loop, self.inFlight, self.messagesPerChat, self.acceptDelay, self.departments) = (loop, inFlight, messagesPerChat, acceptDelay, departments)
    }

    func addOperator(token: String, address: SocketAddress, seed: UInt64) {
        let bot = OperatorBot(world: self, token: token, address: address, seed: seed)
        operators.append(bot)
        bot.connect(loop: loop)
    }

    func addVisitor(address: SocketAddress, seed: UInt64) {
        let bot = VisitorBot(world: self, address: address, seed: seed, firstDepartment: visitors.count)
        visitors.append(bot)
        bot.connect(loop: loop)
    }

    func resetMeasurements() {
        tally.openWindow()
        ack = Histogram()
        measuringSince = MonotonicClock.now()
        chatsStarted = 0
        chatsEnded = 0
    }

    /// The deliveries since the last call and their latency (one point of the timeline).
    func takeWindow() -> (delivered: Int, latency: Histogram) {
        tally.takeSlice()
    }

    /// The measuring window is over: what arrives from now on is the drain.
    func closeWindow() {
        tally.closeWindow()
    }

    /// The delivery latency's 99th percentile so far (for the progress line).
    var deliveryP99: UInt64 { tally.latency.value(atPercentile: 99) }

    func operatorOnline() { progress.update { $0.operatorsOnline += 1 } }

    // MARK: chat lifecycle

    func chatStarted(_ conversation: String, sentAt: UInt64) {
        startedAt[conversation] = sentAt
        chatsStarted += 1
    }

    func offerReceived(_ conversation: String) {
        if offeredAt[conversation] == nil { offeredAt[conversation] = MonotonicClock.now() }
    }

    /// One side may now write in the chat.
    func sideActive(_ conversation: String, _ side: Side, client: WebSocketClient) {
        let key = Key(conversation: conversation, side: side)
        activeSides[key] = client
        pacingOrder.append(key)
        if side == .visitor { progress.update { $0.chatsActive += 1 } }
        if sending { for _ in 0..<inFlight { send(key, on: client) } }
    }

    /// The chat is over for this side: no more sends.
    func sideClosing(_ conversation: String, _ side: Side) {
        let key = Key(conversation: conversation, side: side)
        streams[key, default: MessageStream()].closing = true
        activeSides[key] = nil
        if side == .visitor { chatsEnded += 1 }
    }

    // MARK: messages

    /// Sends the next message of `key`'s stream; `stamp` is when it was due (pacing) or now.
    func send(_ key: Key, on client: WebSocketClient, stamp: UInt64 = MonotonicClock.now()) {
        guard streams[key]?.closing != true else { return }
        var stream = streams[key] ?? MessageStream()
        let counter = stream.nextCounter
        stream.nextCounter += 1
        let id = "\(key.side.rawValue)\(counter)@\(key.conversation)"
        stream.sentAt[id] = stamp
        streams[key] = stream
        client.send(.send(conversation: key.conversation, clientMessageID: id, text: "\(counter) \(stamp) hello"))
        outstandingChanged(1)
    }

    /// The answer to a send, by its client message id: acknowledged (then, in a closed loop,
    /// the next one goes) or refused.
    func answered(_ messageID: String, side: Side, refusal: String?, on client: WebSocketClient) {
        guard let at = messageID.firstIndex(of: "@") else { return }
        let key = Key(conversation: String(messageID[messageID.index(after: at)...]), side: side)
        guard let sent = streams[key]?.sentAt.removeValue(forKey: messageID) else { return }
        outstandingChanged(-1)
        if let refusal {
            // When chats end by design, an operator's message can race the visitor's leave
            // (the refusal may even arrive before the `ended` notice): refused, not lost.
            // Anything else is an error.
            if refusal == "conversation_closed" && (streams[key]?.closing == true || messagesPerChat > 0) {
                refusedAtChatEnd += 1
            } else {
                error(refusal)
            }
            return
        }
        streams[key]?.acknowledged += 1
        if tally.isOpen { ack.record(MonotonicClock.now() &- sent) }
        if side == .visitor, messagesPerChat > 0, streams[key]!.acknowledged >= messagesPerChat, streams[key]?.closing != true {
            // The chat has had its messages: the visitor leaves (and starts anew once it ended).
            sideClosing(key.conversation, .visitor)
            client.send(.leave(conversation: key.conversation))
            return
        }
        if sending && inFlight > 0 && streams[key]?.closing != true { send(key, on: client) }
    }

    /// A message from `author` reached the other side of `conversation`.
    func received(_ conversation: String, from author: Side, counter: Int, sequence: Int, sentAt: UInt64) {
        let key = Key(conversation: conversation, side: author)
        var stream = streams[key] ?? MessageStream()
        if counter < stream.expected {
            duplicated += 1
        } else if counter > stream.expected {
            reordered += 1
        }
        stream.expected = max(stream.expected, counter + 1)
        if sequence <= stream.lastSequence { reordered += 1 }
        stream.lastSequence = sequence
        streams[key] = stream
        let now = MonotonicClock.now()
        tally.record(latency: now &- sentAt)
        if author == .operator, firstReplyAt[conversation] == nil { firstReplyAt[conversation] = now }
    }

    // MARK: open loop

    private var pacingStart: UInt64 = 0
    private var pacedSent = 0
    private var pacingRate = 0.0
    private var nextInOrder = 0

    /// Sends `messagesPerSecond` in all from now on, on a schedule checked every
    /// millisecond, round-robin over the active sides, each message stamped with the time it
    /// was due (not when it left).
    func startPacing(messagesPerSecond: Double) {
        pacingRate = messagesPerSecond
        pacingStart = MonotonicClock.now()
        pace()
    }

    private func pace() {
        guard sending else { return }
        let now = MonotonicClock.now()
        let due = Int(Double(now - pacingStart) * pacingRate / 1e9)
        var skipped = 0
        while pacedSent < due, !pacingOrder.isEmpty, skipped < pacingOrder.count {
            nextInOrder = (nextInOrder + 1) % pacingOrder.count
            let key = pacingOrder[nextInOrder]
            guard let client = activeSides[key] else {
                // That side's chat ended: drop it from the rotation.
                pacingOrder.remove(at: nextInOrder)
                nextInOrder = max(0, nextInOrder - 1)
                skipped += 1
                continue
            }
            send(key, on: client, stamp: pacingStart + UInt64(Double(pacedSent) * 1e9 / pacingRate))
            pacedSent += 1
        }
        loop.scheduleTimer(at: now + 1_000_000) { [weak self] in self?.pace() }
    }

    // MARK: accounting

    /// Messages sent and not yet answered; counted on the loop, published only while
    /// draining (a lock and a wake-up per message would load the generator itself).
    private var outstanding = 0

    private func outstandingChanged(_ delta: Int) {
        outstanding += delta
        if !sending { progress.update { $0.outstanding = outstanding } }
    }

    /// Stops new messages; the control thread then waits for the outstanding ones.
    func stopSending() {
        sending = false
        progress.update { $0.outstanding = outstanding }
    }

    func error(_ code: String) { errors[code, default: 0] += 1 }

    /// A bot's `error` message: the refusal of one of its sends (named by its client
    /// message id), or else an error to count.
    func refused(code: String, requestID: String?, side: Side, on client: WebSocketClient) {
        if let messageID = requestID, messageID.contains("@") {
            answered(messageID, side: side, refusal: code, on: client)
        } else {
            error(code)
        }
    }

    /// A bot's connection closed: an error unless the run is over.
    func connectionClosed() {
        if sending { error("connection_closed") }
    }

    /// Acknowledged messages the other side has not received (yet).
    var undelivered: Int {
        streams.values.reduce(0) { $0 + max(0, $1.acknowledged - $1.expected) }
    }

    struct Result {
        var delivered: Int, drained: Int, lost: Int, duplicated: Int, reordered: Int, errors: [String: Int]
        var delivery: Histogram, ack: Histogram, startToOffer: Histogram, startToFirstReply: Histogram
    }

    func result() -> Result {
        var startToOffer = Histogram(), startToFirstReply = Histogram()
        for (conversation, started) in startedAt where started >= measuringSince {
            if let offered = offeredAt[conversation] { startToOffer.record(offered &- started) }
            if let replied = firstReplyAt[conversation] { startToFirstReply.record(replied &- started) }
        }
        return Result(delivered: tally.delivered, drained: tally.drained, lost: undelivered, duplicated: duplicated, reordered: reordered, errors: errors,
                      delivery: tally.latency, ack: ack, startToOffer: startToOffer, startToFirstReply: startToFirstReply)
    }

    func closeAll() {
        for bot in operators { bot.client?.close() }
        for bot in visitors { bot.client?.close() }
    }
}
