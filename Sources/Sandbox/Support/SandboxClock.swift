import Foundation
import Synchronization

/// The sandbox's notion of now: the wall clock plus an offset that tests can advance
/// (to expire tokens without waiting). It never goes backwards; two writes in the same millisecond share
/// a stamp, as they can on the real services.
///
/// For example:
///
/// ```swift
/// sandbox.clock.advance(by: .seconds(7201))  // every Salesforce session has now expired
/// ```
public final class SandboxClock: Sendable {
    private struct State {
        var offsetMilliseconds: Int64 = 0
        var last: Int64 = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The current instant; never earlier than one returned before.
    public func now() -> SandboxInstant {
        let wall = SandboxInstant(Date()).milliseconds
        return state.withLock { state in
            let candidate = wall + state.offsetMilliseconds
            state.last = max(candidate, state.last)
            return SandboxInstant(milliseconds: state.last)
        }
    }

    /// Moves the sandbox's time forward.
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        state.withLock { $0.offsetMilliseconds += milliseconds }
    }
}
