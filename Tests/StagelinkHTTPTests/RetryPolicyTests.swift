import Foundation
import Testing

@testable import StagelinkHTTP

struct RetryPolicyTests {
    struct CountingGenerator: RandomNumberGenerator {
        var state: UInt64 = 42
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
    }

    @Test func backoffDoublesWithJitterBetweenHalfAndAllOfTheCeiling() {
        let policy = RetryPolicy(maximumAttempts: 6, initialDelay: .milliseconds(100), maximumDelay: .seconds(10))
        var random = CountingGenerator()
        for (attempt, ceiling) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1600)] {
            for _ in 0..<50 {
                let delay = policy.delay(afterAttempt: attempt, retryAfter: nil, using: &random)
                #expect(delay.map { $0 >= .milliseconds(ceiling / 2) && $0 <= .milliseconds(ceiling) } == true)
            }
        }
    }

    @Test func backoffNeverExceedsTheMaximumDelay() {
        let policy = RetryPolicy(maximumAttempts: 40, initialDelay: .seconds(1), maximumDelay: .seconds(5))
        var random = CountingGenerator()
        let delay = policy.delay(afterAttempt: 39, retryAfter: nil, using: &random)
        #expect(delay.map { $0 <= .seconds(5) && $0 >= .milliseconds(2500) } == true)
    }

    @Test func noDelayOnceTheAttemptsAreUsedUp() {
        let policy = RetryPolicy(maximumAttempts: 3)
        var random = CountingGenerator()
        #expect(policy.delay(afterAttempt: 3, retryAfter: nil, using: &random) == nil)
        #expect(RetryPolicy.never.delay(afterAttempt: 1, retryAfter: .seconds(1), using: &random) == nil)
    }

    @Test func retryAfterIsHonouredExactlyUpToItsCap() {
        let policy = RetryPolicy(maximumAttempts: 3, initialDelay: .milliseconds(1), maximumRetryAfter: .seconds(60))
        var random = CountingGenerator()
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(7), using: &random) == .seconds(7))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(61), using: &random) == nil)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse(" 0 ", now: now) == .seconds(0))
        let date = RetryAfter.httpDate("Wed, 26 Nov 2026 07:28:00 GMT")
        #expect(date.map { Int($0.timeIntervalSince1970) } == 1_795_678_080)
        #expect(RetryAfter.parse("Wed, 26 Nov 2026 07:28:00 GMT", now: date!.addingTimeInterval(-30)) == .seconds(30))
        #expect(RetryAfter.parse("Wed, 26 Nov 2026 07:28:00 GMT", now: date!.addingTimeInterval(3600)) == .zero)
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse(nil, now: now) == nil)
    }

    @Test func aRetryAfterTooLongForAnyNumberGivesUpInsteadOfTrapping() {
        let policy = RetryPolicy(maximumAttempts: 3, initialDelay: .milliseconds(1), maximumRetryAfter: .seconds(60))
        var random = SystemRandomNumberGenerator()
        for header in ["99999999999999999999999", "9223372036854775807"] {
            let wait = RetryAfter.parse(header)
            #expect(wait == .seconds(Int64.max))
            #expect(policy.delay(afterAttempt: 1, retryAfter: wait, using: &random) == nil)
        }
    }
}
