import Dispatch
import Foundation
import Synchronization

/// The per-row work of a page (hashing, sealing, opening, blinding) spread over the machine's
/// cores, one lane a core, each lane with state of its own (its nonces, its remembered tokens):
/// on two cores a page of 500 rows is sealed in about half the time. A page smaller than `minimum`
/// stays on the calling thread, where starting lanes would cost more than they save.
///
/// For example:
///
/// ```swift
/// let sealed = try PageLanes.map(payloads.count, state: StoreCipher.Nonces.init) { index, nonces in
///     try cipher.sealPayload(payloads[index], contentHash: hashes[index], nonces: &nonces)
/// }
/// ```
package enum PageLanes {
    /// `work(index, &state)` for every index below `count`, in index order; the first error any lane
    /// met is thrown once every lane has stopped.
    package static func map<Element, State>(
        _ count: Int, minimum: Int = 64, state: @Sendable () -> State, _ work: @Sendable (Int, inout State) throws -> Element
    ) throws -> [Element] {
        let lanes = lanes(count, minimum: minimum)
        guard lanes > 1 else {
            var state = state()
            return try (0..<count).map { try work($0, &state) }
        }
        var results = [Element?](repeating: nil, count: count)
        let failure = Mutex<(any Error)?>(nil)
        results.withUnsafeMutableBufferPointer { buffer in
            // Each lane writes its own indexes only.
            nonisolated(unsafe) let out = buffer
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                var laneState = state()
                do {
                    for index in stride(from: lane, to: count, by: lanes) { out[index] = try work(index, &laneState) }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.map { $0! }
    }

    /// How many lanes a page of `count` rows takes: one a core, or one below `minimum`.
    package static func lanes(_ count: Int, minimum: Int) -> Int {
        count >= minimum ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
    }
}

/// A page's per-row work done beside the caller while the caller takes the results in chunks, in
/// order: the store's writer inserts the first rows while the next are sealed, so that a page
/// costs about the larger of its writing and its preparation rather than their sum, and a page
/// waiting for the writer (behind a link's recording) is prepared meanwhile (docs/performance.md,
/// "Staging prepares a page while it writes it").
///
/// One lane a core but one, each with state of its own, each taking the next chunk no one has
/// taken; a caller whose next chunk is not done yet takes and works the next chunk itself (with
/// a state of its own) rather than wait. So the caller and the lanes keep every core busy without
/// outnumbering them: with a lane a core, the scheduler preempted a lane holding the chunk the
/// writer needed, and the writer waited for it while the other lane ran ahead.
///
/// A page smaller than `minimum` is worked on the calling thread when the pipeline is made, as one
/// chunk. An error met in a chunk is thrown by ``chunk(_:)`` for that chunk and every later one;
/// no chunk after it is started. A pipeline dropped before its last chunk was taken stops after
/// the chunks being worked.
///
/// For example:
///
/// ```swift
/// let page = PagePipeline(records.count, state: StoreCipher.Nonces.init) { index, nonces in
///     try cipher.sealPayload(records[index].payload, contentHash: hashes[index], nonces: &nonces)
/// }
/// for chunk in page.chunks.indices { for sealed in try page.chunk(chunk) { … } }
/// ```
package final class PagePipeline<Element: Sendable, State>: Sendable {
    /// The page's indexes of each chunk, in order.
    package let chunks: [Range<Int>]
    private let progress: Progress
    /// The caller's own state, made the first time it works a chunk.
    private let helper: Mutex<State?>
    private let state: @Sendable () -> State
    /// Lanes to start (none for a page worked at once), and whether they were.
    private let lanes: Int
    private let started = Atomic<Bool>(false)

    /// What the lanes and the caller share.
    private final class Progress: Sendable {
        let chunks: [Range<Int>]
        let work: @Sendable (Int, inout State) throws -> Element
        /// The next chunk no one has taken.
        let next = Atomic<Int>(0)
        /// A signal for each chunk, given once it is done or failed.
        let done: [DispatchSemaphore]
        /// Each chunk's results once done; the first chunk that failed, and its error.
        let results: Mutex<(chunks: [[Element]?], failure: (chunk: Int, error: any Error)?)>
        let abandoned = Atomic<Bool>(false)

        init(_ chunks: [Range<Int>], work: @escaping @Sendable (Int, inout State) throws -> Element) {
            (self.chunks, self.work) = (chunks, work)
            done = chunks.map { _ in DispatchSemaphore(value: 0) }
            results = Mutex((Array(repeating: nil, count: chunks.count), nil))
        }

        /// Takes chunks until none is left, one failed or the caller has gone.
        func run(_ state: inout State) {
            while !abandoned.load(ordering: .relaxed), takeChunk(&state) {}
        }

        /// Takes the next chunk and works it; false when none was left or the page failed.
        func takeChunk(_ state: inout State) -> Bool {
            let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard chunk < chunks.count else { return false }
            do {
                let elements = try chunks[chunk].map { try work($0, &state) }
                let failed = results.withLock { results in
                    results.chunks[chunk] = elements
                    return results.failure != nil
                }
                done[chunk].signal()
                return !failed
            } catch {
                // The chunks before this one were all taken already; whoever took them finishes them.
                let failed = results.withLock { results in
                    guard results.failure.map({ chunk < $0.chunk }) ?? true else { return 0..<0 }
                    let before = results.failure?.chunk ?? chunks.count
                    results.failure = (chunk, error)
                    return chunk..<before
                }
                for chunk in failed { done[chunk].signal() }
                return false
            }
        }
    }

    /// - Parameters:
    ///   - chunkSize: rows a lane takes at once, and the caller; the last chunk may be smaller.
    ///   - minimum: below this many rows the page is worked at once on the calling thread.
    ///   - startingNow: false to start the lanes later (``start()``): a page prepared ahead of its
    ///     turn waits until the page before it needs no more preparing, so that the two pages'
    ///     lanes never outnumber the cores.
    package init(
        _ count: Int, chunkSize: Int = 16, minimum: Int = 128, startingNow: Bool = true, state: @escaping @Sendable () -> State,
        _ work: @escaping @Sendable (Int, inout State) throws -> Element
    ) {
        precondition(chunkSize > 0, "a chunk holds at least one row")
        let pipelined = count >= minimum
        chunks = pipelined ? stride(from: 0, to: count, by: chunkSize).map { $0..<min($0 + chunkSize, count) } : [0..<count]
        let progress = Progress(chunks, work: work)
        (self.progress, self.state) = (progress, state)
        helper = Mutex(nil)
        lanes = pipelined ? max(1, PageLanes.lanes(count, minimum: minimum) - 1) : 0
        guard pipelined else {
            var state = state()
            progress.run(&state)
            return
        }
        if startingNow { start() }
    }

    /// Starts the lanes, once: they take the chunks the caller has not taken yet.
    package func start() {
        guard lanes > 0, !started.exchange(true, ordering: .relaxed) else { return }
        for _ in 0..<lanes {
            DispatchQueue.global(qos: .userInitiated).async { [progress, state] in
                var state = state()
                progress.run(&state)
            }
        }
    }

    deinit { progress.abandoned.store(true, ordering: .relaxed) }

    /// The results of the rows of `chunks[chunk]`, in order, working later chunks until they are
    /// done; the error met in this chunk or an earlier one.
    package func chunk(_ chunk: Int) throws -> [Element] {
        while progress.done[chunk].wait(timeout: .now()) == .timedOut {
            let helped = helper.withLock { helper in
                var state = helper ?? self.state()
                defer { helper = state }
                return progress.takeChunk(&state)
            }
            if !helped {
                progress.done[chunk].wait()
                break
            }
        }
        // Signalled again, so that the chunk can be taken again (a transaction tried twice).
        defer { progress.done[chunk].signal() }
        return try progress.results.withLock { results in
            if let failure = results.failure, failure.chunk <= chunk { throw failure.error }
            return results.chunks[chunk]!
        }
    }
}
