import CLinux
import Glibc

/// Nanoseconds on the monotonic clock. The shells read time here and pass it into the
/// pure state machines; nothing else in Wire reads a clock.
public enum MonotonicClock {
    /// Now, in nanoseconds since an arbitrary fixed point.
    @inline(__always)
    public static func now() -> UInt64 { nanoseconds(CLOCK_MONOTONIC) }
}

/// Nanoseconds since 1970 on the system's real-time clock: for what is stored or shown
/// (event times, queue ranks), which must mean the same after a reboot and on another
/// machine. Timers and timeouts use `MonotonicClock`: the wall clock may be stepped.
public enum WallClock {
    /// Now, in nanoseconds since 1970-01-01 UTC.
    @inline(__always)
    public static func now() -> UInt64 { nanoseconds(CLOCK_REALTIME) }
}

@inline(__always)
private func nanoseconds(_ clock: clockid_t) -> UInt64 {
    var spec = timespec()
    clock_gettime(clock, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}

/// A duration helper so call sites read `.milliseconds(500)` rather than raw nanoseconds.
public enum Nanoseconds {
    /// `value` milliseconds in nanoseconds.
    public static func milliseconds(_ value: UInt64) -> UInt64 { value * 1_000_000 }
    /// `value` seconds in nanoseconds.
    public static func seconds(_ value: UInt64) -> UInt64 { value * 1_000_000_000 }
}
