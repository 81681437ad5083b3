/// Work that runs while keys are handled (counts, refreshes, actions), one task per key: asking
/// again while it runs queues the newest request to run next, so that the last filter typed is
/// the one applied and a count never runs twice at once.
@MainActor
final class BackgroundWork {
    typealias Work = @MainActor () async throws -> Void

    private var running: [String: Task<Void, Never>] = [:]
    private var queued: [String: Work] = [:]
    /// Called with the key and the error when work fails.
    var failed: (@MainActor (String, any Error) -> Void)?
    /// Called when a piece of work ends, so that the screen is drawn again.
    var finished: (@MainActor () -> Void)?

    var isIdle: Bool { running.isEmpty }

    func run(_ key: String, _ work: @escaping Work) {
        guard running[key] == nil else {
            queued[key] = work
            return
        }
        running[key] = Task { @MainActor [weak self] in
            var next: Work? = work
            while let current = next {
                do {
                    try await current()
                } catch is CancellationError {
                } catch {
                    self?.failed?(key, error)
                }
                self?.finished?()
                next = self?.queued.removeValue(forKey: key)
            }
            self?.running[key] = nil
        }
    }

    /// Waits until nothing is running, including work started by the work awaited; with a
    /// predicate, only for the work whose key it accepts.
    func settle(where accepts: (String) -> Bool = { _ in true }) async {
        while let task = running.first(where: { accepts($0.key) })?.value { await task.value }
    }
}
