import Gateway
import Testing
import Wire

/// Regression (issue 10): the dev login took 400 wrong passwords in 0.2 s.
@Suite struct LoginThrottleTests {
    let second: UInt64 = 1_000_000_000
    let start: UInt64 = 5_000_000_000

    @Test func afterFiveWrongPasswords_anAccountWaits_andTheWaitDoubles() {
        var throttle = LoginThrottle()
        for n in 0..<4 {
            #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: start) == nil, "attempt \(n) is free")
            throttle.failed(account: "shop/anna", address: "10.0.0.1", now: start)
        }
        throttle.failed(account: "shop/anna", address: "10.0.0.1", now: start)
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: start) == second)
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.2", now: start) == nil,
                "Anna at her own desk is not locked out by someone guessing elsewhere")
        #expect(throttle.wait(account: "shop/ben", address: "10.0.0.2", now: start) == nil, "another account is not locked")
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: start + second) == nil, "the wait ends")
        throttle.failed(account: "shop/anna", address: "10.0.0.1", now: start + second)
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: start + second) == 2 * second, "the next wait is twice as long")
    }

    @Test func theWait_stopsGrowingAtTheCeiling() {
        var throttle = LoginThrottle()
        var now = start
        for _ in 0..<80 {
            throttle.failed(account: "shop/anna", address: "10.0.0.1", now: now)
            now += throttle.wait(account: "shop/anna", address: "10.0.0.1", now: now) ?? 0
        }
        throttle.failed(account: "shop/anna", address: "10.0.0.1", now: now)
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: now) == throttle.policy.maxDelay)
    }

    @Test func oneAddressGuessingManyAccounts_isSlowedToo() {
        var throttle = LoginThrottle()
        for n in 0..<20 { throttle.failed(account: "shop/op\(n)", address: "10.0.0.9", now: start) }
        #expect(throttle.wait(account: "shop/someone-new", address: "10.0.0.9", now: start) == second)
        #expect(throttle.wait(account: "shop/someone-new", address: "10.0.0.8", now: start) == nil)
    }

    @Test func theRightPassword_clearsTheAccount_andOldFailuresAreForgotten() {
        var throttle = LoginThrottle()
        for _ in 0..<4 { throttle.failed(account: "shop/anna", address: "10.0.0.1", now: start) }
        throttle.succeeded(account: "shop/anna", address: "10.0.0.1")
        throttle.failed(account: "shop/anna", address: "10.0.0.1", now: start)
        #expect(throttle.wait(account: "shop/anna", address: "10.0.0.1", now: start) == nil, "the count started afresh")
        for _ in 0..<4 { throttle.failed(account: "shop/carl", address: "10.0.0.3", now: start) }
        throttle.failed(account: "shop/carl", address: "10.0.0.3", now: start + throttle.policy.forgetAfter)
        #expect(throttle.wait(account: "shop/carl", address: "10.0.0.3", now: start + throttle.policy.forgetAfter) == nil)
    }

    @Test func aFloodOfNames_keepsMemoryBounded_andDoesNotResetALock() {
        var policy = LoginThrottle.Policy()
        policy.maxKeys = 100
        var throttle = LoginThrottle(policy: policy)
        for _ in 0..<5 { throttle.failed(account: "shop/anna", address: "10.9.9.9", now: start) }
        for n in 0..<1_000 { throttle.failed(account: "shop/x\(n)", address: "10.0.\(n / 250).\(n % 250)", now: start + UInt64(n)) }
        #expect(throttle.rememberedKeys <= 101)
        #expect(throttle.wait(account: "shop/anna", address: "10.9.9.9", now: start + 1_000) != nil, "the lock outlived the flood")
    }
}

/// Regression (issue 10): nothing but the file limit bounded the connections one address held.
@Suite struct ConnectionBudgetTests {
    @Test func eachAddress_andTheWhole_areBounded() {
        var budget = ConnectionBudget(maxConnections: 5, maxPerAddress: 2, exempt: ["10.0.0.254"])
        #expect(budget.admit("10.0.0.1") == nil && budget.admit("10.0.0.1") == nil)
        #expect(budget.admit("10.0.0.1") == .address)
        #expect(budget.admit("10.0.0.2") == nil)
        #expect(budget.admit("10.0.0.254") == nil && budget.admit("10.0.0.254") == nil, "a trusted proxy is not limited per address")
        #expect(budget.admit("10.0.0.3") == .full)
        budget.release("10.0.0.1")
        #expect(budget.count(from: "10.0.0.1") == 1 && budget.open == 4)
        #expect(budget.admit("10.0.0.1") == nil)
        for address in ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.254", "10.0.0.254"] { budget.release(address) }
        #expect(budget.open == 0 && budget.count(from: "10.0.0.1") == 0)
    }

    @Test func zeroPerAddress_meansNoLimitPerAddress() {
        var budget = ConnectionBudget(maxConnections: 3, maxPerAddress: 0)
        for _ in 0..<3 { #expect(budget.admit("127.0.0.1") == nil) }
        #expect(budget.admit("127.0.0.1") == .full)
    }
}
