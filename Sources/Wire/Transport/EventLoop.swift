import CLinux
import Foundation
import Synchronization

/// Something registered with an event loop for readiness events on its file descriptor.
protocol Selectable: AnyObject {
    /// Called on the loop thread with the epoll event bits.
    func handleEvents(_ events: UInt32)
}

/// One epoll loop on one thread. Connections, listeners and timers registered with a loop
/// are confined to its thread: only `execute` may be called from elsewhere (queue + eventfd).
///
/// Each iteration: wait for readiness (bounded by the next timer), dispatch events, run
/// queued tasks, fire due timers, then flush every connection that was written to during
/// the iteration, so many frames leave in one `writev`.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: `inbox` is a Mutex and `wakeFD`/`epollFD`/`threadID` are written once
    // before the loop thread starts; every other member is touched only on the loop thread.

    private let epollFD: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    private var threadID: pthread_t?
    private let started = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Indexed by file descriptor: descriptors are small integers, and an array lookup per
    /// event is much cheaper than hashing.
    private var registrations: [(any Selectable)?] = []
    private var timers = TimerHeap()
    private var timerTasks: [TimerID: () -> Void] = [:]
    private var pendingFlush: [TCPConnection] = []
    // Swapped with `pendingFlush` / the inbox each iteration so neither array is ever
    // copied (a copy of a shared array buffer would allocate on every iteration).
    private var flushing: [TCPConnection] = []
    private var runningTasks: [@Sendable () -> Void] = []
    private var running = true

    /// The time read after the last `epoll_wait`, in monotonic nanoseconds; cheaper than a
    /// clock read per event and precise enough for timeouts.
    public private(set) var now: UInt64 = MonotonicClock.now()

    /// One read buffer per loop: reads are handled synchronously, so connections share it
    /// and an idle connection costs no read buffer at all.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Reused output chunks for every connection of this loop.
    let chunkPool = ChunkPool()

    /// Creates the loop and starts its thread, named `name`.
    public init(name: String = "switchboard-loop") {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(epollFD >= 0 && wakeFD >= 0, "epoll_create1/eventfd failed: errno \(sb_errno())")
        _ = sb_epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, EPOLLIN.rawValue)
        let thread = Thread { [self] in
            threadID = pthread_self()
            started.signal()
            run()
            finished.signal()
        }
        thread.name = name
        thread.start()
        started.wait()
    }

    deinit {
        close(epollFD)
        close(wakeFD)
        readBuffer.deallocate()
    }

    /// True when called on this loop's thread.
    public var inEventLoop: Bool {
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    /// Traps when called off the loop thread: loop-confined state must not be shared.
    @inline(__always)
    public func assertInLoop(_ function: StaticString = #function) {
        precondition(inEventLoop, "\(function) must run on its event loop's thread")
    }

    /// Runs `task` on the loop thread soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        let wasEmpty = inbox.withLock { queue in
            queue.append(task)
            return queue.count == 1
        }
        if wasEmpty {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Runs `task` on the loop and waits for its result. For control paths and tests only:
    /// never call it from the loop itself.
    public func submitAndWait<T: Sendable>(_ task: @escaping @Sendable () throws -> T) throws -> T {
        precondition(!inEventLoop, "submitAndWait on the loop itself would deadlock")
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        execute {
            let outcome = Result { try task() }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    /// Stops the loop after the current iteration and waits for its thread to end.
    /// Registered descriptors are closed by their owners, not here.
    public func shutdown() {
        precondition(!inEventLoop, "shutdown must be called from outside the loop")
        execute { [self] in running = false }
        finished.wait()
    }

    // MARK: timers (loop thread only)

    /// Runs `task` on the loop at `deadline` (monotonic ns) unless cancelled first.
    @discardableResult
    public func scheduleTimer(at deadline: UInt64, _ task: @escaping () -> Void) -> TimerID {
        assertInLoop()
        let id = timers.push(deadline: deadline)
        timerTasks[id] = task
        return id
    }

    /// Cancels a timer; a no-op if it already ran.
    public func cancelTimer(_ id: TimerID) {
        assertInLoop()
        timerTasks[id] = nil
    }

    // MARK: registration (loop thread only)

    func register(_ fd: Int32, events: UInt32, _ handler: any Selectable) {
        assertInLoop()
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: Swift.max(index + 1, registrations.count * 2) - registrations.count))
        }
        registrations[index] = handler
        let result = sb_epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, events)
        precondition(result == 0, "epoll_ctl ADD failed: errno \(sb_errno())")
    }

    func modify(_ fd: Int32, events: UInt32) {
        assertInLoop()
        _ = sb_epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, events)
    }

    func deregister(_ fd: Int32) {
        assertInLoop()
        _ = sb_epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, 0)
        registrations[Int(fd)] = nil
    }

    /// The open connections registered with this loop (tests use it to simulate a crash).
    func openConnectionsForTesting() -> [TCPConnection] {
        assertInLoop()
        return registrations.compactMap { $0 as? TCPConnection }
    }

    /// Asks for `connection` to be flushed at the end of this iteration.
    func scheduleFlush(_ connection: TCPConnection) {
        pendingFlush.append(connection)
    }

    // MARK: the loop

    private func run() {
        let events = UnsafeMutablePointer<sb_epoll_ready>.allocate(capacity: 256)
        defer { events.deallocate() }
        while running {
            let count = sb_epoll_wait(epollFD, events, 256, waitTimeoutNanoseconds())
            now = MonotonicClock.now()
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    if event.fd == wakeFD {
                        var value: UInt64 = 0
                        _ = read(wakeFD, &value, 8)
                    } else {
                        registrations[Int(event.fd)]?.handleEvents(event.events)
                    }
                }
            }
            runInbox()
            runDueTimers()
            flushPending()
        }
    }

    /// How long the next wait may last: 0 with work pending, until the next timer, or -1.
    /// (In nanoseconds: a load generator pacing every millisecond must not wake up to a
    /// millisecond late, as whole-millisecond epoll timeouts made it.)
    private func waitTimeoutNanoseconds() -> Int64 {
        if !pendingFlush.isEmpty || inbox.withLock({ !$0.isEmpty }) { return 0 }
        guard let deadline = timers.nextDeadline else { return -1 }
        let current = MonotonicClock.now()
        guard deadline > current else { return 0 }
        return Int64(clamping: deadline - current)
    }

    private func runInbox() {
        inbox.withLock { queue in swap(&queue, &runningTasks) }
        for task in runningTasks { task() }
        runningTasks.removeAll(keepingCapacity: true)
    }

    private func runDueTimers() {
        guard timers.nextDeadline != nil else { return }
        now = MonotonicClock.now()
        while let id = timers.popDue(now: now) {
            if let task = timerTasks.removeValue(forKey: id) { task() }
        }
    }

    private func flushPending() {
        // Flushing may schedule more (a handler writes from a writability callback).
        while !pendingFlush.isEmpty {
            swap(&pendingFlush, &flushing)
            for connection in flushing { connection.flushScheduled() }
            flushing.removeAll(keepingCapacity: true)
        }
    }
}

/// A fixed set of event loops, one per core by default; new connections are spread over them.
public final class EventLoopGroup: Sendable {
    /// The loops.
    public let loops: [EventLoop]
    private let cursor = Atomic<Int>(0)

    /// Starts `count` loops (default: one per core).
    public init(loopCount count: Int = ProcessInfo.processInfo.activeProcessorCount, name: String = "switchboard") {
        precondition(count > 0, "an event loop group needs at least one loop")
        // A peer closing while we write must be an error return, not a process-killing signal.
        signal(SIGPIPE, SIG_IGN)
        loops = (0..<count).map { EventLoop(name: "\(name)-\($0)") }
    }

    /// The next loop, round robin.
    public func next() -> EventLoop {
        loops[(cursor.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max) % loops.count]
    }

    /// Stops every loop.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }
}
