import Foundation
import Glibc
import Wire

/// Answers every application frame with the same frame. Stops reading from a peer while
/// its output is over the high watermark, so a client that does not read cannot make the
/// server buffer without bound.
final class EchoDelegate: WirePeerDelegate {
    func peerDidEstablish(_ peer: WirePeer) {}

    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        guard let type = MessageType(rawValue: header.type) else { return }
        do {
            try peer.sendFrame(type: type, correlationID: header.correlationID, payload: payload)
        } catch {
            peer.close()
        }
        if !peer.isWritable { peer.connection?.pauseReading() }
    }

    func peerWritabilityChanged(_ peer: WirePeer) {
        if peer.isWritable { peer.connection?.resumeReading() }
    }

    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {}
}

/// Settings shared by the echo server and the wire client so they can talk.
enum BenchCluster {
    static func configuration(nodeID: String, role: NodeRole, secret: String) -> WireConfiguration {
        WireConfiguration(handshake: HandshakeConfiguration(nodeID: nodeID, role: role, clusterName: "loadgen",
                                                            secret: Array(secret.utf8)),
                          connection: ConnectionOptions(idleTimeout: 0))
    }
}

/// `loadgen echo`: a Wire echo server built on the same transport as the routers.
enum EchoServer {
    static let usage = """
    loadgen echo: a Wire echo server (the peer `loadgen wire` measures against).

    Options:
      --listen HOST:PORT  address to listen on (default 127.0.0.1:7499; port 0 picks one)
      --loops N           event loops (default 1)
      --secret S          cluster secret (default "loadgen")
      --until-stdin-closes  exit when standard input reaches end of file (how `wire`
                          makes sure its echo child never outlives it)

    Prints "listening HOST:PORT" once ready; runs until killed.
    """

    static func run(_ raw: [String]) throws -> Int32 {
        let arguments = try Arguments(raw, known: ["listen", "loops", "secret"], switches: ["until-stdin-closes"])
        if arguments.wantsHelp {
            print(usage)
            return 0
        }
        let listenText = arguments.string("listen") ?? "127.0.0.1:7499"
        guard let address = SocketAddress(listenText) else {
            throw Arguments.Failure(description: "--listen must be IPv4 HOST:PORT, got \(listenText)")
        }
        let loops = try arguments.int("loops", default: 1, range: 1...64)
        ProcessResources.raiseOpenFileLimit()
        let group = EventLoopGroup(loopCount: loops, name: "echo")
        let configuration = BenchCluster.configuration(nodeID: "echo", role: .router, secret: arguments.string("secret") ?? "loadgen")
        let server = try WireServer(group: group, address: address, configuration: configuration) { _ in EchoDelegate() }
        // Unbuffered: the parent reads this line from a pipe to learn the port.
        FileHandle.standardOutput.write(Data("listening \(server.address)\n".utf8))
        if arguments.flag("until-stdin-closes") {
            while !FileHandle.standardInput.availableData.isEmpty {}
            return 0
        }
        while true { pause() }
    }
}
