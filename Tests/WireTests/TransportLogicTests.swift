import Glibc
import Testing
@testable import Wire

@Suite struct TimerHeapTests {
    @Test func popsInDeadlineOrder_andEqualDeadlinesInPushOrder() {
        var heap = TimerHeap()
        var rng = SplitMix64(seed: 8)
        var pushed: [(deadline: UInt64, id: TimerID)] = []
        for _ in 0..<500 {
            let deadline = UInt64.random(in: 0...50, using: &rng)
            pushed.append((deadline, heap.push(deadline: deadline)))
        }
        var popped: [TimerID] = []
        while let id = heap.popDue(now: .max) { popped.append(id) }
        let expected = pushed.enumerated().sorted { a, b in
            a.element.deadline != b.element.deadline ? a.element.deadline < b.element.deadline : a.offset < b.offset
        }.map(\.element.id)
        #expect(popped == expected)
    }

    @Test func nothingIsDue_beforeItsDeadline() {
        var heap = TimerHeap()
        _ = heap.push(deadline: 100)
        #expect(heap.popDue(now: 99) == nil)
        #expect(heap.nextDeadline == 100)
        #expect(heap.popDue(now: 100) != nil)
        #expect(heap.count == 0)
    }
}

@Suite struct BackoffTests {
    @Test func delays_growExponentially_withinJitterBounds_upToTheCap() {
        var backoff = Backoff(initial: 100, maximum: 1_000)
        var rng = SplitMix64(seed: 1)
        let ceilings: [UInt64] = [100, 200, 400, 800, 1_000, 1_000, 1_000]
        for ceiling in ceilings {
            let delay = backoff.nextDelay(using: &rng)
            #expect(delay >= ceiling / 2 && delay <= ceiling, "delay \(delay) outside [\(ceiling / 2), \(ceiling)]")
        }
    }

    @Test func reset_startsAgainFromInitial() {
        var backoff = Backoff(initial: 100, maximum: 10_000)
        var rng = SplitMix64(seed: 2)
        for _ in 0..<10 { _ = backoff.nextDelay(using: &rng) }
        backoff.reset()
        #expect(backoff.nextDelay(using: &rng) <= 100)
    }

    @Test func manyAttempts_neverOverflow() {
        var backoff = Backoff(initial: Nanoseconds.seconds(1), maximum: Nanoseconds.seconds(30))
        var rng = SplitMix64(seed: 3)
        for _ in 0..<200 { #expect(backoff.nextDelay(using: &rng) <= Nanoseconds.seconds(30)) }
    }

    @Test func jitter_spreadsClients_thatFailedTogether() {
        var delays = Set<UInt64>()
        for seed in 0..<20 {
            var backoff = Backoff(initial: 1_000_000, maximum: 1_000_000_000)
            var rng = SplitMix64(seed: UInt64(seed))
            delays.insert(backoff.nextDelay(using: &rng))
        }
        #expect(delays.count > 15)
    }
}

@Suite struct OutboundBufferTests {
    /// A fake socket taking at most `capacity` bytes per call.
    final class FakeSocket {
        var received: [UInt8] = []
        var capacity: Int
        var calls = 0
        var vectorsPerCall: [Int] = []
        init(capacity: Int) { self.capacity = capacity }

        func sink(_ vectors: UnsafePointer<iovec>, _ count: Int32) -> (written: Int, errno: Int32) {
            calls += 1
            vectorsPerCall.append(Int(count))
            guard capacity > 0 else { return (-1, EAGAIN) }
            var taken = 0
            for index in 0..<Int(count) where taken < capacity {
                let vector = vectors[index]
                let piece = min(vector.iov_len, capacity - taken)
                received.append(contentsOf: UnsafeRawBufferPointer(start: vector.iov_base, count: piece))
                taken += piece
            }
            return (taken, 0)
        }
    }

    @Test func manyAppends_leaveInOneWritev_inOrder() {
        let buffer = OutboundBuffer(pool: ChunkPool(chunkSize: 1024))
        var expected: [UInt8] = []
        for index in 0..<300 {
            let piece = [UInt8](repeating: UInt8(index % 251), count: 10 + index % 7)
            expected += piece
            piece.withUnsafeBytes { buffer.append($0) }
        }
        let socket = FakeSocket(capacity: .max)
        #expect(buffer.flush(socket.sink) == .drained)
        #expect(socket.calls == 1)
        #expect(socket.vectorsPerCall == [(expected.count + 1023) / 1024])
        #expect(socket.received == expected)
        #expect(buffer.count == 0)
    }

    @Test func partialWrites_resumeExactlyWhereTheyStopped() {
        let buffer = OutboundBuffer(pool: ChunkPool(chunkSize: 64))
        let data = (0..<1000).map { UInt8($0 % 256) }
        data.withUnsafeBytes { buffer.append($0) }
        let socket = FakeSocket(capacity: 37)
        var rounds = 0
        while buffer.count > 0 && rounds < 100 {
            socket.capacity = 37
            let result = buffer.flush { vectors, count in
                let answer = socket.sink(vectors, count)
                socket.capacity = 0  // the kernel buffer is now full
                return answer
            }
            #expect(result == .wouldBlock || result == .drained)
            rounds += 1
        }
        #expect(socket.received == data)
    }

    @Test func writeError_isReported_andKeepsTheBytes() {
        let buffer = OutboundBuffer(pool: ChunkPool())
        [UInt8]([1, 2, 3]).withUnsafeBytes { buffer.append($0) }
        #expect(buffer.flush { _, _ in (-1, ECONNRESET) } == .failed(ECONNRESET))
        #expect(buffer.count == 3)
    }

    @Test func moreThan64Chunks_needSeveralWritevCalls() {
        let buffer = OutboundBuffer(pool: ChunkPool(chunkSize: 16))
        let data = [UInt8](repeating: 7, count: 16 * 100)
        data.withUnsafeBytes { buffer.append($0) }
        let socket = FakeSocket(capacity: .max)
        #expect(buffer.flush(socket.sink) == .drained)
        #expect(socket.vectorsPerCall == [64, 36])
        #expect(socket.received.count == data.count)
    }
}
