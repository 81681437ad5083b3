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
        let lanes = count >= minimum ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
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
}
