import Foundation
import Testing
@testable import Wire

/// Integrity counters of a two-way run.
struct Transfer: Sendable {
    var serverReceived: UInt64 = 0
    var clientReceived: UInt64 = 0
    var corrupt = 0
    var outOfOrder = 0
    var maxPending = 0
    var pausedTimes = 0
    var sent: UInt64 = 0
}

/// Server side: verifies every frame and echoes it; stops reading while it cannot write.
final class VerifyingEcho: WirePeerDelegate {
    let transfer: Shared<Transfer>
    private var expected: UInt64 = 0
    init(_ transfer: Shared<Transfer>) { self.transfer = transfer }

    func peerDidEstablish(_ peer: WirePeer) {}
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        let sequence = CheckedPayload.verify(payload)
        let inOrder = sequence == expected
        expected += 1
        if expected % 1000 == 0 || sequence == nil || !inOrder {
            let count = expected
            transfer.update {
                $0.serverReceived = count
                if sequence == nil { $0.corrupt += 1 } else if !inOrder { $0.outOfOrder += 1 }
            }
        }
        try? peer.sendFrame(type: MessageType(rawValue: header.type)!, correlationID: header.correlationID, payload: payload)
        if !peer.isWritable { peer.connection?.pauseReading() }
    }
    func peerWritabilityChanged(_ peer: WirePeer) {
        if peer.isWritable { peer.connection?.resumeReading() }
    }
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}
}

/// Client side: sends `total` checked frames as fast as writability allows, verifies echoes.
final class PumpingClient: WirePeerDelegate {
    let transfer: Shared<Transfer>
    let total: UInt64
    private var sent: UInt64 = 0
    private var received: UInt64 = 0
    private var scratch = ByteWriter(capacity: 2048)
    init(_ transfer: Shared<Transfer>, total: UInt64) {
        self.transfer = transfer
        self.total = total
    }

    func peerDidEstablish(_ peer: WirePeer) { pump(peer) }
    func peerWritabilityChanged(_ peer: WirePeer) { pump(peer) }
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}

    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        let sequence = CheckedPayload.verify(payload)
        let inOrder = sequence == received && header.correlationID == UInt32(truncatingIfNeeded: received)
        received += 1
        if received % 1000 == 0 || received == total || sequence == nil || !inOrder {
            let count = received
            transfer.update {
                $0.clientReceived = count
                if sequence == nil { $0.corrupt += 1 } else if !inOrder { $0.outOfOrder += 1 }
            }
        }
    }

    private func pump(_ peer: WirePeer) {
        while sent < total && peer.isWritable {
            CheckedPayload.make(sequence: sent, into: &scratch)
            let correlation = UInt32(truncatingIfNeeded: sent)
            scratch.bytes.withUnsafeBytes { try? peer.sendFrame(type: .conversationEvent, correlationID: correlation, payload: $0) }
            sent += 1
        }
    }
}

/// Server side of the slow-reader test: floods frames while writable, records the peak
/// of pending output. With `ignoreWritability` it keeps writing to provoke the cut-off.
final class Flooder: WirePeerDelegate {
    let transfer: Shared<Transfer>
    let total: UInt64
    let ignoreWritability: Bool
    private var sent: UInt64 = 0
    private var maxPending = 0
    // Incompressible, so every frame really costs its kilobyte of output buffer.
    private let payload: [UInt8] = {
        var rng = SplitMix64(seed: 7)
        return (0..<1024).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }()
    init(_ transfer: Shared<Transfer>, total: UInt64, ignoreWritability: Bool = false) {
        self.transfer = transfer
        self.total = total
        self.ignoreWritability = ignoreWritability
    }

    func peerDidEstablish(_ peer: WirePeer) { pump(peer) }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {}
    func peerWritabilityChanged(_ peer: WirePeer) {
        if !peer.isWritable { transfer.update { $0.pausedTimes += 1 } }
        pump(peer)
    }
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}

    private func pump(_ peer: WirePeer) {
        while sent < total && (peer.isWritable || ignoreWritability) && peer.connection != nil {
            payload.withUnsafeBytes { try? peer.sendFrame(type: .conversationEvent, correlationID: 0, payload: $0) }
            sent += 1
            maxPending = max(maxPending, peer.connection?.pendingOutputBytes ?? 0)
        }
        let (count, peak) = (sent, maxPending)
        transfer.update {
            $0.sent = count
            $0.maxPending = peak
        }
    }
}

/// Counts frames and can stop and resume reading.
final class CountingReader: WirePeerDelegate {
    let transfer: Shared<Transfer>
    let events: Shared<PeerEvents>
    let startPaused: Bool
    private var received: UInt64 = 0
    init(_ transfer: Shared<Transfer>, events: Shared<PeerEvents>, startPaused: Bool) {
        self.transfer = transfer
        self.events = events
        self.startPaused = startPaused
    }
    func peerDidEstablish(_ peer: WirePeer) {
        if startPaused { peer.connection?.pauseReading() }
        events.update { $0.established.append(peer.identity!) }
    }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        received += 1
        let count = received
        if count % 100 == 0 { transfer.update { $0.clientReceived = count } }
    }
    func peerWritabilityChanged(_ peer: WirePeer) {}
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) { events.update { $0.closes.append(reason) } }
}

@Suite(.serialized, .timeLimit(.minutes(2))) struct TransportTests {
    @Test func hundredThousandFramesEachWay_arriveIntactAndInOrder() throws {
        let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
        let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
        defer { serverGroup.shutdown(); clientGroup.shutdown() }
        let transfer = Shared(Transfer())
        let server = try WireServer(group: serverGroup, address: loopback, configuration: wireConfiguration("router")) { _ in
            VerifyingEcho(transfer)
        }
        defer { server.close() }
        let total: UInt64 = 100_000
        let loop = clientGroup.loops[0]
        let client = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: server.address, configuration: wireConfiguration("gw", role: .gateway),
                                    delegate: PumpingClient(transfer, total: total))
            client.start()
            return UncheckedBox(client)
        }
        let finished = transfer.wait(seconds: 60) { $0.clientReceived == total || $0.corrupt > 0 || $0.outOfOrder > 0 }
        try loop.submitAndWait { client.value.stop() }
        let result = transfer.read { $0 }
        #expect(finished)
        #expect(result.serverReceived == total)
        #expect(result.clientReceived == total)
        #expect(result.corrupt == 0)
        #expect(result.outOfOrder == 0)
    }

    @Test func slowReader_pausesTheWriter_andPendingOutputStaysBounded() throws {
        let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
        let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
        defer { serverGroup.shutdown(); clientGroup.shutdown() }
        let options = ConnectionOptions(highWatermark: 64 << 10, lowWatermark: 16 << 10, maxPendingBytes: 1 << 20)
        let transfer = Shared(Transfer())
        let events = Shared(PeerEvents())
        let total: UInt64 = 20_000  // 20 MB: far more than the kernel's socket buffers hold
        let server = try WireServer(group: serverGroup, address: loopback, configuration: wireConfiguration("router", connection: options)) { _ in
            Flooder(transfer, total: total)
        }
        defer { server.close() }
        let loop = clientGroup.loops[0]
        let reader = CountingReader(transfer, events: events, startPaused: true)
        let client = try loop.submitAndWait { [reader = UncheckedBox(reader)] in
            let client = WireClient(loop: loop, address: server.address, configuration: wireConfiguration("gw"), delegate: reader.value)
            client.start()
            return UncheckedBox(client)
        }
        // Resuming before the client has paused itself (on establishing) would be lost, so
        // wait for that first. The writer must stop on its own: it goes unwritable and stops
        // short of the total, since the kernel's buffers hold far less than 20 MB.
        #expect(events.wait(seconds: 10) { $0.established.count == 1 })
        #expect(transfer.wait(seconds: 10) { $0.pausedTimes >= 1 })
        let stalled = transfer.read { $0 }
        #expect(stalled.sent < total)
        #expect(stalled.maxPending <= (64 << 10) + 1024 + FrameHeader.size)
        // Reading again drains everything.
        try loop.submitAndWait { client.value.peer?.connection?.resumeReading() }
        #expect(transfer.wait(seconds: 30) { $0.clientReceived == total })
        #expect(transfer.read { $0.maxPending } <= (64 << 10) + 1024 + FrameHeader.size)
        try loop.submitAndWait { client.value.stop() }
    }

    @Test func quietButHealthyLink_outlivesManyIdleTimeouts_thanksToKeepalivePings() throws {
        let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
        let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
        defer { serverGroup.shutdown(); clientGroup.shutdown() }
        let options = ConnectionOptions(idleTimeout: Nanoseconds.milliseconds(150))
        let serverEvents = Shared(PeerEvents())
        let clientEvents = Shared(PeerEvents())
        let server = try WireServer(group: serverGroup, address: loopback, configuration: wireConfiguration("router", connection: options)) { _ in
            RecordingDelegate(serverEvents)
        }
        defer { server.close() }
        let loop = clientGroup.loops[0]
        let client = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: server.address, configuration: wireConfiguration("gw", connection: options),
                                    delegate: RecordingDelegate(clientEvents))
            client.start()
            return UncheckedBox(client)
        }
        #expect(clientEvents.wait { $0.established.count == 1 })
        // Nothing is sent by the application; the link must survive ten idle periods. This
        // waits for time to pass on purpose: the property under test is "nothing happens".
        #expect(!serverEvents.wait(seconds: 1.5) { !$0.closes.isEmpty })
        #expect(clientEvents.read { $0.closes.isEmpty && $0.established.count == 1 })
        #expect(serverEvents.read { $0.frames } == 0, "pings and pongs are not application frames")
        try loop.submitAndWait { client.value.stop() }
    }

    @Test func peerThatNeverReads_isCutOff_whenPendingOutputPassesTheLimit() throws {
        let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
        let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
        defer { serverGroup.shutdown(); clientGroup.shutdown() }
        let options = ConnectionOptions(highWatermark: 64 << 10, lowWatermark: 16 << 10, maxPendingBytes: 1 << 20)
        let transfer = Shared(Transfer())
        let serverEvents = Shared(PeerEvents())
        final class RecordingFlooder: WirePeerDelegate {
            let flooder: Flooder
            let events: Shared<PeerEvents>
            init(_ flooder: Flooder, _ events: Shared<PeerEvents>) { self.flooder = flooder; self.events = events }
            func peerDidEstablish(_ peer: WirePeer) { flooder.peerDidEstablish(peer) }
            func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {}
            func peerWritabilityChanged(_ peer: WirePeer) { flooder.peerWritabilityChanged(peer) }
            func peerDidClose(_ peer: WirePeer, reason: CloseReason) { events.update { $0.closes.append(reason) } }
        }
        let server = try WireServer(group: serverGroup, address: loopback, configuration: wireConfiguration("router", connection: options)) { _ in
            RecordingFlooder(Flooder(transfer, total: 100_000, ignoreWritability: true), serverEvents)
        }
        defer { server.close() }
        let loop = clientGroup.loops[0]
        let client = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: server.address, configuration: wireConfiguration("gw"),
                                    delegate: CountingReader(transfer, events: Shared(PeerEvents()), startPaused: true))
            client.start()
            return UncheckedBox(client)
        }
        #expect(serverEvents.wait { !$0.closes.isEmpty })
        #expect(serverEvents.read { $0.closes } == [.protocolError(.slowConsumer)])
        try loop.submitAndWait { client.value.stop() }
    }

    @Test func client_reconnectsWithBackoff_afterTheServerRestarts() throws {
        let serverGroup = EventLoopGroup(loopCount: 1, name: "server")
        let clientGroup = EventLoopGroup(loopCount: 1, name: "client")
        defer { serverGroup.shutdown(); clientGroup.shutdown() }
        let serverEvents = Shared(PeerEvents())
        let clientEvents = Shared(PeerEvents())
        var server: WireServer? = try WireServer(group: serverGroup, address: loopback, configuration: wireConfiguration("router-1")) { _ in
            RecordingDelegate(serverEvents)
        }
        let address = server!.address
        let loop = clientGroup.loops[0]
        let client = try loop.submitAndWait {
            let client = WireClient(loop: loop, address: address, configuration: wireConfiguration("gw"),
                                    backoff: Backoff(initial: Nanoseconds.milliseconds(10), maximum: Nanoseconds.milliseconds(200)),
                                    seed: 42, delegate: RecordingDelegate(clientEvents))
            client.start()
            return UncheckedBox(client)
        }
        #expect(clientEvents.wait { $0.established.count == 1 })

        // "Restart": stop listening and drop the connection from the server side.
        server?.close()
        server = nil
        try serverGroup.loops[0].submitAndWait {
            for connection in serverGroup.loops[0].openConnectionsForTesting() { connection.close() }
        }
        #expect(clientEvents.wait { $0.closes.count == 1 })
        // While nobody listens, attempts fail (each one a close) and are retried.
        #expect(clientEvents.wait { $0.closes.count >= 4 })
        #expect(try loop.submitAndWait { client.value.attempts } >= 4)

        let restarted = try WireServer(group: serverGroup, address: address, configuration: wireConfiguration("router-2")) { _ in
            RecordingDelegate(serverEvents)
        }
        defer { restarted.close() }
        #expect(clientEvents.wait { $0.established.count == 2 })
        #expect(clientEvents.read { $0.established.last?.nodeID } == "router-2")
        try loop.submitAndWait { client.value.stop() }
    }
}
