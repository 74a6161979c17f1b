import Wire

/// Push-pull over TCP: a whole membership table as one sealed frame (type 23, exactly as a
/// datagram but up to `maxBytes`), one frame per connection and one way: the sender
/// connects, writes and closes; the answer comes back the same way. TCP because a table of
/// hundreds of members does not fit a datagram (memberlist syncs state over TCP for the
/// same reason), on the UDP socket's port number (as memberlist does), so a seed's gossip
/// address is all a joining router needs. Probes stay on UDP: TCP's retransmissions would
/// turn a slow member into a dead one.
public enum PushPullStream {
    /// Largest frame sent or accepted: a table of about 15,000 members.
    public static let maxBytes = 1 << 20
    /// How long a connection may take to deliver its frame (either side).
    public static let timeout: UInt64 = 5_000_000_000

    static var options: ConnectionOptions {
        var options = ConnectionOptions()
        options.idleTimeout = timeout
        return options
    }
}

/// Reads one sealed frame from an accepted connection, hands it on and closes. Anything
/// else (too large, an unknown header, bytes after the frame, a connection that ends
/// early) is refused by reason and changes nothing.
final class PushPullReceiver: ConnectionHandler {
    private var buffer: [UInt8] = []
    private var done = false
    private let deliver: ([UInt8]) -> Void
    private let refuse: (String) -> Void

    init(deliver: @escaping ([UInt8]) -> Void, refuse: @escaping (String) -> Void) {
        (self.deliver, self.refuse) = (deliver, refuse)
    }

    func connectionDidOpen(_ connection: TCPConnection) {}
    func connectionWritabilityChanged(_ connection: TCPConnection) {}

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        guard !done else { return }
        buffer.append(contentsOf: bytes)
        let limits = FrameLimits(maxFrameSize: PushPullStream.maxBytes, maxDecompressedSize: PushPullStream.maxBytes)
        let parsed = buffer.withUnsafeBytes { raw -> Result<FrameHeader?, WireError> in
            do throws(WireError) { return .success(try FrameHeader.parse(raw, limits: limits)) } catch { return .failure(error) }
        }
        let header: FrameHeader?
        switch parsed {
        case .success(let value): header = value
        case .failure(.frameTooLarge): return finish(connection, refusal: "size")
        case .failure: return finish(connection, refusal: "frame")
        }
        guard let header else { return }
        let total = FrameHeader.size + Int(header.payloadLength) + MembershipDatagram.tagBytes
        guard buffer.count >= total else { return }
        guard buffer.count == total else { return finish(connection, refusal: "frame") }
        done = true
        deliver(buffer)
        buffer = []
        connection.close()
    }

    func connectionDidClose(_ connection: TCPConnection, reason: CloseReason) {
        if !done && !buffer.isEmpty { refuse("truncated") }
        done = true
    }

    private func finish(_ connection: TCPConnection, refusal: String) {
        done = true
        buffer = []
        refuse(refusal)
        connection.close()
    }
}

/// Writes one frame on a new connection and closes it once it is out.
final class PushPullSender: ConnectionHandler {
    private let bytes: [UInt8]
    private var written = false
    private let failed: () -> Void

    init(bytes: [UInt8], failed: @escaping () -> Void) {
        (self.bytes, self.failed) = (bytes, failed)
    }

    func connectionDidOpen(_ connection: TCPConnection) {
        bytes.withUnsafeBytes { connection.write($0) }
        written = true
        connection.closeAfterFlush(deadline: PushPullStream.timeout)
    }

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {}
    func connectionWritabilityChanged(_ connection: TCPConnection) {}

    func connectionDidClose(_ connection: TCPConnection, reason: CloseReason) {
        if !written { failed() }
    }
}
