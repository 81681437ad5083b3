import Foundation
import Synchronization
import Testing

@testable import Sandbox

/// The org processes its Bulk API jobs one at a time: jobs handed over at once never overlap,
/// and each is processed once.
struct BulkProcessingLaneTests {
    @Test func jobsHandedOverAtOnceAreProcessedOneAfterTheOther() async throws {
        let lane = BulkProcessingLane()
        let log = Log()
        let results = await withTaskGroup(of: Int.self) { group in
            for job in 1...6 {
                group.addTask {
                    await lane.run {
                        log.append("start \(job)")
                        // Work long enough for another job to start beside it if the lane let it.
                        Thread.sleep(forTimeInterval: 0.02)
                        log.append("end \(job)")
                        return job
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == [1, 2, 3, 4, 5, 6])
        let entries = log.entries
        #expect(entries.count == 12)
        // Every start is followed by the end of the same job, before any other job starts.
        for pair in stride(from: 0, to: entries.count, by: 2) {
            let job = entries[pair].dropFirst("start ".count)
            #expect(entries[pair].hasPrefix("start "))
            #expect(entries[pair + 1] == "end \(job)")
        }
    }

    /// What the jobs did, in the order they did it.
    private final class Log: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var entries: [String] { lines.withLock { $0 } }
    }
}
