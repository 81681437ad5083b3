import Synchronization

/// A request to stop after the current batch: set by SIGTERM/SIGINT, checked between pages and
/// batches, so that what is in flight finishes and is recorded before the job is marked interrupted.
public final class StopSignal: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    public func request() { requested.store(true, ordering: .relaxed) }
    public var isRequested: Bool { requested.load(ordering: .relaxed) }
}
