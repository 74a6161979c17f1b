import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing
@testable import Wire

let testSecret = Array("integration-secret".utf8)

func wireConfiguration(_ nodeID: String, role: NodeRole = .router, secret: [UInt8] = testSecret,
                       connection: ConnectionOptions = ConnectionOptions(),
                       handshakeTimeout: UInt64 = Nanoseconds.seconds(5)) -> WireConfiguration {
    WireConfiguration(handshake: HandshakeConfiguration(nodeID: nodeID, role: role, clusterName: "test", secret: secret),
                      connection: connection, handshakeTimeout: handshakeTimeout)
}

let loopback = SocketAddress(host: "127.0.0.1", port: 0)!

/// Payload of an integrity-checked test frame: sequence number, seeded filler of a size
/// that depends on the sequence (some over the LZ4 threshold), then CRC32C of all before it.
enum CheckedPayload {
    static func make(sequence: UInt64, into writer: inout ByteWriter) {
        writer.clear()
        writer.writeVarint(sequence)
        var rng = SplitMix64(seed: sequence)
        let size = sequence % 10 == 0 ? 1500 : Int(sequence % 120)
        let compressible = sequence % 20 == 0
        for index in 0..<size {
            writer.writeUInt8(compressible ? UInt8(index % 7) : UInt8(truncatingIfNeeded: rng.next()))
        }
        let crc = writer.bytes.withUnsafeBytes { CRC32C.checksum($0) }
        writer.writeUInt32(crc)
    }

    /// The sequence number if the payload is intact, nil if corrupted.
    static func verify(_ payload: UnsafeRawBufferPointer) -> UInt64? {
        guard payload.count >= 5 else { return nil }
        let body = UnsafeRawBufferPointer(rebasing: payload[..<(payload.count - 4)])
        var tail = ByteReader(UnsafeRawBufferPointer(rebasing: payload[(payload.count - 4)...]))
        guard let stored = try? tail.readUInt32(), stored == CRC32C.checksum(body) else { return nil }
        var reader = ByteReader(body)
        return try? reader.readVarint()
    }
}

/// A blocking raw TCP client that speaks bytes, not Wire: for feeding servers bad input.
final class RawClient {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let address = SocketAddress(host: "127.0.0.1", port: port)!
        let result = address.withSockAddr { connect(fd, $0, $1) }
        guard result == 0 else { throw SocketError(operation: "connect", errno: errno) }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the server closes (or 5 s pass) and decodes whatever frames came.
    func readUntilClosed() -> (frames: [WireMessage], closed: Bool) {
        var decoder = FrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var messages: [WireMessage] = []
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return (messages, count == 0) }
            buffer.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            while let frame = try? decoder.nextFrame() {
                if let message = try? frame.payload.withUnsafeBytes({ try WireMessage.decode(type: frame.header.type, payload: $0) }) {
                    messages.append(message)
                }
            }
        }
    }

    /// Reads bytes until the server closes (or the 5 s receive timeout passes), as text.
    func readTextUntilClosed() -> (text: String, closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return (String(decoding: received, as: UTF8.self), count == 0) }
            received += buffer[0..<count]
        }
    }

    /// Reads exactly one frame (blocking).
    func readFrame() -> WireMessage? {
        var decoder = FrameDecoder()
        var byte = [UInt8](repeating: 0, count: 1)
        while true {
            if let frame = try? decoder.nextFrame() {
                return try? frame.payload.withUnsafeBytes { try WireMessage.decode(type: frame.header.type, payload: $0) }
            }
            let count = byte.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 1, 0) }
            if count <= 0 { return nil }
            byte.withUnsafeBytes { decoder.feed($0) }
        }
    }
}

func encodeFrame(_ message: WireMessage) -> [UInt8] {
    var encoder = FrameEncoder()
    var out = ByteWriter()
    try! encoder.encode(message, correlationID: 0, into: &out)
    return out.bytes
}

/// Records what happens to peers, for assertions from the test thread.
struct PeerEvents: Sendable {
    var established: [PeerIdentity] = []
    var closes: [CloseReason] = []
    var frames = 0
}

/// A delegate that records events and answers nothing (the peer itself answers pings).
final class RecordingDelegate: WirePeerDelegate {
    let events: Shared<PeerEvents>
    init(_ events: Shared<PeerEvents>) { self.events = events }
    func peerDidEstablish(_ peer: WirePeer) { events.update { $0.established.append(peer.identity!) } }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) { events.update { $0.frames += 1 } }
    func peerWritabilityChanged(_ peer: WirePeer) {}
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) { events.update { $0.closes.append(reason) } }
}
