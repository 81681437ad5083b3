import Synchronization

/// The fault rules in force and the seeded generator that decides when a rate rule fires.
///
/// For example:
///
/// ```swift
/// try sandbox.faults.inject(FaultRule(.serviceUnavailable, on: .fhirSearch, trigger: .nextCalls(1)))
/// sandbox.faults.clear()
/// ```
public final class FaultInjector: Sendable {
    private struct State {
        var rules: [FaultRule] = []
        var random: SeededGenerator
        var injected: [SandboxEndpoint: Int] = [:]
    }

    private let state: Mutex<State>

    init(seed: UInt64) {
        state = Mutex(State(random: SeededGenerator(seed: seed ^ 0xFA17)))
    }

    /// Adds a rule; the first rule of an endpoint that fires decides a call's fault.
    public func inject(_ rule: FaultRule) throws(SandboxError) {
        guard rule.kind.applies(to: rule.endpoint) else { throw .faultNotApplicable(rule.kind, rule.endpoint) }
        switch rule.trigger {
        case .rate(let share) where !(0...1).contains(share):
            throw .invalidSetting("a fault rate is between 0 and 1")
        case .nextCalls(let count) where count < 1:
            throw .invalidSetting("a fault on the next calls needs at least one call")
        default: break
        }
        state.withLock { $0.rules.append(rule) }
    }

    /// Removes every rule, or those of one endpoint group.
    public func clear(_ endpoint: SandboxEndpoint? = nil) {
        state.withLock { state in
            state.rules.removeAll { endpoint == nil || $0.endpoint == endpoint }
        }
    }

    /// The rules in force, with what is left of each `nextCalls` trigger.
    public var rules: [FaultRule] { state.withLock { $0.rules } }

    /// How many faults fired per endpoint group since the last reset.
    public var injectedCounts: [SandboxEndpoint: Int] { state.withLock { $0.injected } }

    /// The fault a call to `endpoint` suffers now, if any; a `nextCalls` rule is used up by one.
    func decide(_ endpoint: SandboxEndpoint) -> FaultRule? {
        state.withLock { state in
            for index in state.rules.indices where state.rules[index].endpoint == endpoint {
                let rule = state.rules[index]
                switch rule.trigger {
                case .rate(let share):
                    guard state.random.chance(share) else { continue }
                case .nextCalls(let count):
                    if count <= 1 {
                        state.rules.remove(at: index)
                    } else {
                        state.rules[index].trigger = .nextCalls(count - 1)
                    }
                }
                state.injected[endpoint, default: 0] += 1
                return rule
            }
            return nil
        }
    }

    /// Which of `count` records a row-lock fault fails: at least one, and never all when there are several.
    func lockedRows(count: Int, share: Double) -> Set<Int> {
        guard count > 0 else { return [] }
        return state.withLock { state in
            var locked = Set((0..<count).filter { _ in state.random.chance(share) })
            if locked.isEmpty { locked.insert(Int.random(in: 0..<count, using: &state.random)) }
            if count > 1, locked.count == count { locked.remove(Int.random(in: 0..<count, using: &state.random)) }
            return locked
        }
    }

    func reset() {
        state.withLock { state in
            state.rules = []
            state.injected = [:]
        }
    }
}
