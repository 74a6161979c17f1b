import Wire

/// SWIM on an event loop: the instance's directives carried out over a UDP socket and the
/// loop's timers, and beside it the presence gossip (`PresenceGossip`) that membership
/// drives, over the same socket. Every datagram is authenticated (`MembershipDatagram`) and
/// checked against the sender's replay window before either machine sees it; anything
/// refused is counted by reason and changes nothing. Push-pull (joining, anti-entropy) goes
/// over TCP on the same port number (`PushPullStream`).
///
/// Loop-confined: create it with `start` and use it on its loop.
public final class MembershipNode {
    /// Counters for /metrics.
    public struct Metrics: Sendable, Equatable {
        public var datagramsSent = 0
        public var bytesSent = 0
        public var datagramsReceived = 0
        /// Push-pull tables sent and received over TCP, and those that could not be sent.
        public var pushPullsSent = 0
        public var pushPullsReceived = 0
        public var pushPullsFailed = 0
        /// Dropped datagrams by reason: size, tag, frame, malformed, replay (received), and
        /// too_large (a message that could not be sent in one datagram); push-pull streams
        /// refused count here too (truncated: the connection ended before the frame did).
        public var dropped: [String: Int] = [:]
    }

    public let loop: EventLoop
    public private(set) var instance: SWIMInstance
    /// The gossiped presence table (each router's operators).
    public private(set) var presence: PresenceGossip
    public private(set) var metrics = Metrics()
    /// Called on the loop when what this member believes of another changes.
    public var onChange: ((MemberID, MemberStatus) -> Void)?
    /// Gives the next generation when the others declared this member dead (the shell's
    /// boot counter); nil: stay dead.
    public var nextGeneration: (() throws -> UInt64)?
    /// Called on the loop after this member joined again as a new generation.
    public var onRejoin: ((MemberID) -> Void)?
    /// Called on the loop when another router's presence entry is new here.
    public var onLearned: ((PresenceEntry) -> Void)?
    /// Called on the loop with a gone router's entries, now forgotten.
    public var onForgotten: (([PresenceEntry]) -> Void)?
    /// Called on the loop with each control-plane message (authenticated, new to the
    /// sender's replay window) and its sender.
    public var onControl: ((MemberID, [UInt8]) -> Void)?
    private var seeds: [String] = []
    private var settings: SWIMSettings
    private var socket: UDPSocket?
    private var stream: TCPServer?
    private let secret: [UInt8]
    private var counter: UInt64 = 0
    private var replay = ReplayWindow()
    /// Frames that came alone over TCP have a window of their own: a connection takes longer
    /// than a datagram, so the sender's datagrams would otherwise push it out of the window.
    private var streamReplay = ReplayWindow()

    /// The socket's address (the port the kernel chose when 0 was asked for).
    public var address: SocketAddress? { socket?.address }

    private init(loop: EventLoop, instance: SWIMInstance, secret: [UInt8]) {
        (self.loop, self.instance, self.secret, self.settings) = (loop, instance, secret, instance.settings)
        presence = PresenceGossip(me: instance.me, settings: instance.settings, seed: UInt64.random(in: 0...UInt64.max))
    }

    /// Binds `bind`, joins through `seeds` ("host:port" of other members' UDP addresses) and
    /// starts probing. `advertise` is the address others reach this member at (default the
    /// bound one). Call on `loop`.
    public static func start(loop: EventLoop, me: MemberID, bind: SocketAddress, advertise: String? = nil, settings: SWIMSettings,
                             secret: [UInt8], seeds: [String], seed: UInt64 = UInt64.random(in: 0...UInt64.max)) throws -> MembershipNode {
        loop.assertInLoop()
        let node = MembershipNode(loop: loop, instance: SWIMInstance(me: me, address: "", settings: settings, seed: seed), secret: secret)
        let box = UncheckedBox(node)
        let socket = try UDPSocket(loop: loop, address: bind) { bytes, from in box.value.received(Array(bytes), from: from) }
        node.socket = socket
        // Push-pull over TCP on the same port number as the UDP socket.
        node.stream = try TCPServer(loops: [loop], address: socket.address, options: PushPullStream.options) { _ in
            PushPullReceiver(deliver: { bytes in box.value.receivedStream(bytes) },
                             refuse: { reason in box.value.metrics.dropped[reason, default: 0] += 1 })
        }
        node.instance = SWIMInstance(me: me, address: advertise ?? "\(socket.address)", settings: settings, seed: seed)
        node.seeds = seeds
        node.carryOut(node.instance.start(now: MonotonicClock.now(), seeds: seeds))
        node.carryOut(node.presence.start(now: MonotonicClock.now()))
        return node
    }

    /// Publishes this router's `value` for `key` to every other (with the next gossip
    /// period). False, changing nothing, if it is too large to gossip.
    @discardableResult
    public func publish(key: String, value: [UInt8]) -> Bool {
        loop.assertInLoop()
        return presence.publish(key: key, value: value)
    }

    /// Leaves the cluster: tells a few members, then stops (the socket is closed once the
    /// goodbyes are out).
    public func leave() {
        loop.assertInLoop()
        carryOut(instance.leave(now: MonotonicClock.now()))
        stop()
    }

    /// Stops without a word (what a crash looks like to the others). Timers still set find
    /// no socket and do nothing.
    public func stop() {
        loop.assertInLoop()
        socket?.close()
        socket = nil
        stream?.close()
        stream = nil
    }

    // MARK: internals

    private func received(_ bytes: [UInt8], from source: SocketAddress) {
        metrics.datagramsReceived += 1
        let opened = MembershipDatagram.open(bytes, secret: secret)
        switch opened {
        case .success((MembershipDatagram.messageType, let payload)):
            switch MembershipDatagram.decode(payload: payload) {
            case .failure(let refusal): count(refusal)
            case .success(let (envelope, counter)):
                if admit(counter, from: envelope.from) { carryOut(instance.onMessage(envelope, now: MonotonicClock.now())) }
            }
        case .success((ControlDatagram.messageType, let payload)):
            receivedControl(payload, stream: false)
        case .success((_, let payload)):
            switch PresenceDatagram.decode(payload: payload) {
            case .failure(let refusal): count(refusal)
            case .success(let (message, sender, counter)):
                // Replies go where the datagram came from: the sender may not be in the table yet.
                if admit(counter, from: sender) {
                    carryOut(presence.onMessage(message, from: sender, address: "\(source)", now: MonotonicClock.now()))
                }
            }
        case .failure(let refusal):
            count(refusal)
        }
    }

    /// A push-pull frame that came over TCP: a membership table, nothing else.
    /// A frame that came alone over TCP: a membership table or a large control message.
    private func receivedStream(_ bytes: [UInt8]) {
        guard socket != nil else { return }
        switch MembershipDatagram.open(bytes, secret: secret, limit: PushPullStream.maxBytes) {
        case .failure(let refusal): count(refusal)
        case .success((ControlDatagram.messageType, let payload)):
            receivedControl(payload, stream: true)
        case .success((MembershipDatagram.messageType, let payload)):
            metrics.pushPullsReceived += 1
            switch MembershipDatagram.decode(payload: payload) {
            case .failure(let refusal): count(refusal)
            case .success(let (envelope, counter)):
                guard case .pushPull = envelope.message else { return count(.frame) }
                if admit(counter, from: envelope.from, stream: true) { carryOut(instance.onMessage(envelope, now: MonotonicClock.now())) }
            }
        case .success:
            count(.frame)  // presence gossip never comes this way
        }
    }

    private func receivedControl(_ payload: [UInt8], stream: Bool) {
        switch ControlDatagram.decode(payload: payload) {
        case .failure(let refusal): count(refusal)
        case .success(let (body, sender, counter)):
            if admit(counter, from: sender, stream: stream) { onControl?(sender, body) }
        }
    }

    /// Sends a control-plane message to the member at `address` (its gossip address): a
    /// datagram when it fits, else alone on a TCP connection. Loss is the protocol's to
    /// bear (Raft retries). False if it is too large even for a stream.
    @discardableResult
    public func sendControl(_ body: [UInt8], to address: String) -> Bool {
        loop.assertInLoop()
        guard let socket, let destination = SocketAddress(address) else { return false }
        counter += 1
        if let bytes = ControlDatagram.encode(body, from: instance.me, counter: counter, secret: secret, limit: MembershipDatagram.maxBytes) {
            sent(bytes, to: destination, on: socket)
            return true
        }
        guard let bytes = ControlDatagram.encode(body, from: instance.me, counter: counter, secret: secret, limit: PushPullStream.maxBytes) else {
            metrics.dropped["too_large", default: 0] += 1
            return false
        }
        stream(bytes, to: destination)
        return true
    }

    /// Writes one sealed frame on a new TCP connection to `destination`.
    private func stream(_ bytes: [UInt8], to destination: SocketAddress) {
        metrics.bytesSent += bytes.count
        let box = UncheckedBox(self)
        _ = TCPConnection.connect(to: destination, on: loop, options: PushPullStream.options,
                                  handler: PushPullSender(bytes: bytes) { box.value.metrics.pushPullsFailed += 1 })
    }

    private func sendStream(_ envelope: SWIMEnvelope, to address: String) {
        guard socket != nil, let destination = SocketAddress(address) else { return }
        counter += 1
        guard let bytes = MembershipDatagram.encode(envelope, counter: counter, secret: secret, limit: PushPullStream.maxBytes) else {
            metrics.dropped["too_large", default: 0] += 1
            return
        }
        metrics.pushPullsSent += 1
        stream(bytes, to: destination)
    }

    /// Whether the sender's replay window (of datagrams, or of stream frames) takes this
    /// number (counted if not).
    private func admit(_ counter: UInt64, from sender: MemberID, stream: Bool = false) -> Bool {
        let accepted = stream ? streamReplay.accept(counter, from: sender) : replay.accept(counter, from: sender)
        guard accepted else {
            metrics.dropped["replay", default: 0] += 1
            return false
        }
        return true
    }

    private func count(_ refusal: MembershipDatagram.Refusal) {
        let reason = switch refusal {
        case .size: "size"
        case .tag: "tag"
        case .frame: "frame"
        case .malformed: "malformed"
        }
        metrics.dropped[reason, default: 0] += 1
    }

    private func carryOut(_ directives: [SWIMInstance.Directive]) {
        for directive in directives {
            switch directive {
            case .send(let envelope, _, let address):
                send(envelope, to: address)
            case .pushPull(let envelope, let address):
                sendStream(envelope, to: address)
            case .schedule(let timer, let at):
                later(at) { node in node.carryOut(node.instance.onTimer(timer, now: MonotonicClock.now())) }
            case .changed(let member, let status):
                if status.isGone {
                    replay.forget(member)
                    streamReplay.forget(member)
                }
                carryOut(presence.onMemberChanged(member, status: status, address: instance.members[member]?.address ?? ""))
                onChange?(member, status)
            case .raisedSuspicion:
                break
            case .declaredDead:
                rejoin()
            }
        }
    }

    private func carryOut(_ directives: [PresenceGossip.Directive]) {
        for directive in directives {
            switch directive {
            case .send(let message, _, let address):
                guard let socket, let destination = SocketAddress(address) else { continue }
                counter += 1
                guard let bytes = PresenceDatagram.encode(message, from: presence.me, counter: counter, secret: secret) else {
                    metrics.dropped["too_large", default: 0] += 1
                    continue
                }
                sent(bytes, to: destination, on: socket)
            case .schedule(let timer, let at):
                later(at) { node in node.carryOut(node.presence.onTimer(timer, now: MonotonicClock.now())) }
            case .learned(let entry):
                onLearned?(entry)
            case .forgotten(let entries):
                onForgotten?(entries)
            }
        }
    }

    /// Runs `body` at `deadline`, unless the node stopped or joined again as another
    /// generation meanwhile: a timer of the machines that generation replaced would start a
    /// second probe or gossip loop.
    private func later(_ deadline: UInt64, _ body: @escaping (MembershipNode) -> Void) {
        let box = UncheckedBox(self)
        let me = instance.me
        _ = loop.scheduleTimer(at: deadline) {
            let node = box.value
            guard node.socket != nil, node.instance.me == me else { return }
            body(node)
        }
    }

    /// Joins again as the next generation, through the seeds and every member the old one
    /// still knew alive.
    private func rejoin() {
        guard let nextGeneration, let generation = try? nextGeneration() else { return }
        let old = instance
        let me = MemberID(node: old.me.node, generation: generation)
        let known = old.members.values.filter { !$0.status.isGone }.map(\.address)
        instance = SWIMInstance(me: me, address: old.address, settings: settings, seed: UInt64.random(in: 0...UInt64.max))
        replay = ReplayWindow()
        streamReplay = ReplayWindow()
        // The new generation says again what the old one had published.
        let published = presence.table[presence.me]?.values.sorted { $0.key < $1.key } ?? []
        presence = PresenceGossip(me: me, settings: settings, seed: UInt64.random(in: 0...UInt64.max))
        for entry in published { presence.publish(key: entry.key, value: entry.value) }
        carryOut(instance.start(now: MonotonicClock.now(), seeds: Array(Set(seeds + known)).sorted()))
        carryOut(presence.start(now: MonotonicClock.now()))
        onRejoin?(me)
    }

    private func send(_ envelope: SWIMEnvelope, to address: String) {
        guard let socket, let destination = SocketAddress(address) else { return }
        counter += 1
        // The piggybacked updates are budgeted to fit; should they not, the message goes alone.
        guard let bytes = MembershipDatagram.encode(envelope, counter: counter, secret: secret)
                ?? MembershipDatagram.encode(SWIMEnvelope(from: envelope.from, fromAddress: envelope.fromAddress, message: envelope.message, gossip: []),
                                             counter: counter, secret: secret) else {
            metrics.dropped["too_large", default: 0] += 1
            return
        }
        sent(bytes, to: destination, on: socket)
    }

    private func sent(_ bytes: [UInt8], to destination: SocketAddress, on socket: UDPSocket) {
        metrics.datagramsSent += 1
        metrics.bytesSent += bytes.count
        socket.send(bytes, to: destination)
    }
}
