import Synchronization

/// Bearer tokens and what they stand for, each valid until its expiry on the sandbox clock.
final class SessionTable<Session: Sendable>: Sendable {
    private let entries = Mutex<[String: (session: Session, expires: SandboxInstant)]>([:])
    private let clock: SandboxClock

    init(clock: SandboxClock) { self.clock = clock }

    /// Registers `token` for `lifetime` from now.
    func open(_ token: String, _ session: Session, lifetime: Duration) {
        let expires = clock.now().adding(seconds: Double(lifetime.components.seconds))
        entries.withLock { $0[token] = (session, expires) }
    }

    /// Every token issued, expired ones included.
    var tokens: [String] { entries.withLock { Array($0.keys) } }

    /// The session of a token, or nil when unknown or expired.
    func session(_ token: String) -> Session? {
        let now = clock.now()
        return entries.withLock { entries in
            guard let entry = entries[token], entry.expires > now else { return nil }
            return entry.session
        }
    }
}
