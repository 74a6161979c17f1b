import CLinux
import Glibc

/// Fixed-size chunks of output memory, reused across the connections of one loop so a
/// busy connection does not allocate per write and an idle one holds no output memory.
final class ChunkPool {
    /// Bytes per chunk.
    let chunkSize: Int
    /// Free chunks kept for reuse; more than this are returned to the allocator.
    let maxSpare: Int
    private var spare: [UnsafeMutableRawPointer] = []
    /// Scratch iovec array for `writev`; flushes run one at a time on the loop thread.
    let vectors: UnsafeMutablePointer<iovec>
    /// How many iovecs one `writev` may take.
    static let maxVectors = 64

    init(chunkSize: Int = 64 * 1024, maxSpare: Int = 64) {
        self.chunkSize = chunkSize
        self.maxSpare = maxSpare
        vectors = .allocate(capacity: Self.maxVectors)
    }

    deinit {
        for chunk in spare { chunk.deallocate() }
        vectors.deallocate()
    }

    func take() -> UnsafeMutableRawPointer {
        spare.popLast() ?? UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
    }

    func give(_ chunk: UnsafeMutableRawPointer) {
        if spare.count < maxSpare { spare.append(chunk) } else { chunk.deallocate() }
    }
}

/// Bytes waiting to be written to one socket, as a list of pool chunks, flushed with one
/// `writev` over all of them (up to 64 at a time). Appending copies into the tail chunk, so
/// frames from many writes leave together.
final class OutboundBuffer {
    private struct Chunk {
        let base: UnsafeMutableRawPointer
        var start: Int
        var end: Int
    }

    private let pool: ChunkPool
    private var chunks: [Chunk] = []
    /// Bytes waiting.
    private(set) var count = 0

    init(pool: ChunkPool) {
        self.pool = pool
    }

    deinit {
        for chunk in chunks { pool.give(chunk.base) }
    }

    var isEmpty: Bool { count == 0 }

    /// Copies `bytes` to the end of the buffer.
    func append(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            if chunks.isEmpty || chunks[chunks.count - 1].end == pool.chunkSize {
                chunks.append(Chunk(base: pool.take(), start: 0, end: 0))
            }
            let last = chunks.count - 1
            let room = pool.chunkSize - chunks[last].end
            let piece = min(room, bytes.count - offset)
            (chunks[last].base + chunks[last].end).copyMemory(from: bytes.baseAddress! + offset, byteCount: piece)
            chunks[last].end += piece
            offset += piece
        }
        count += bytes.count
    }

    /// The result of one flush attempt.
    enum FlushResult: Equatable {
        /// Everything was written.
        case drained
        /// The socket took only part; wait for writability.
        case wouldBlock
        /// The write failed with this errno.
        case failed(Int32)
    }

    /// Writes as much as the sink takes. `sink` is `writev` in production and a fake in tests:
    /// it gets the iovecs and returns bytes written, or -1 with the errno in the second value.
    func flush(_ sink: (UnsafePointer<iovec>, Int32) -> (written: Int, errno: Int32)) -> FlushResult {
        let vectors = pool.vectors
        while count > 0 {
            let used = min(chunks.count, ChunkPool.maxVectors)
            for index in 0..<used {
                let chunk = chunks[index]
                vectors[index] = iovec(iov_base: chunk.base + chunk.start, iov_len: chunk.end - chunk.start)
            }
            let (written, error) = sink(vectors, Int32(used))
            if written < 0 {
                if error == EINTR { continue }
                return error == EAGAIN || error == EWOULDBLOCK ? .wouldBlock : .failed(error)
            }
            consume(written)
            if written == 0 { return .wouldBlock }
        }
        return .drained
    }

    private func consume(_ written: Int) {
        var left = written
        count -= written
        while left > 0 {
            let available = chunks[0].end - chunks[0].start
            if left >= available {
                left -= available
                pool.give(chunks.removeFirst().base)
            } else {
                chunks[0].start += left
                left = 0
            }
        }
        // Keep a half-written chunk, but a fully drained tail chunk goes back to the pool.
        if count == 0, let last = chunks.popLast() { pool.give(last.base) }
    }
}
