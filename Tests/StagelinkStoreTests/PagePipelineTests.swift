import Foundation
import Synchronization
import Testing
@testable import StagelinkStore

#if canImport(Glibc)
import Glibc
#endif

/// A page's preparation beside its writing (``PagePipeline``): the results come in the page's
/// order whoever worked them, an error stops the page from its chunk on, the caller works chunks
/// itself rather than wait, and a pipeline dropped stops its lanes.
struct PagePipelineTests {
    struct Refused: Error, Equatable { let row: Int }

    /// Every chunk of `page`, taken in order as the store's writer takes them.
    static func taken<State>(_ page: PagePipeline<Int, State>) throws -> [[Int]] {
        try page.chunks.indices.map { try page.chunk($0) }
    }

    @Test func everyRowsResultComesInThePagesOrderChunkByChunk() throws {
        let page = PagePipeline(500, chunkSize: 16, state: { 0 }) { index, seen in
            seen += 1
            return index * 2
        }
        #expect(page.chunks.count == 32)
        #expect(page.chunks.last == 496..<500)
        let chunks = try Self.taken(page)
        #expect(chunks.map(\.count) == page.chunks.map(\.count))
        #expect(chunks.flatMap { $0 } == (0..<500).map { $0 * 2 })
        #expect(try page.chunk(3) == (48..<64).map { $0 * 2 }, "a chunk can be taken again (a transaction tried twice)")
    }

    @Test func aPageSmallerThanTheMinimumIsWorkedAtOnceOnTheCallingThread() throws {
        let caller = pthread_self()
        let elsewhere = Atomic<Int>(0)
        let page = PagePipeline(100, minimum: 128, state: {}) { index, _ in
            if pthread_equal(pthread_self(), caller) == 0 { elsewhere.add(1, ordering: .relaxed) }
            return index
        }
        #expect(page.chunks == [0..<100])
        #expect(try page.chunk(0) == Array(0..<100))
        #expect(elsewhere.load(ordering: .relaxed) == 0)
    }

    @Test func anErrorIsThrownForItsChunkAndEveryLaterOneTheChunksBeforeComeAsUsual() throws {
        let page = PagePipeline(500, chunkSize: 16, state: {}) { index, _ in
            if index == 257 { throw Refused(row: 257) }
            return index
        }
        for chunk in 0..<16 { #expect(try page.chunk(chunk) == Array(page.chunks[chunk])) }
        for chunk in 16..<32 { #expect(throws: Refused(row: 257)) { try page.chunk(chunk) } }
    }

    @Test func theCallerWorksTheNextChunksItselfRatherThanWaitAndTheOrderHolds() throws {
        let caller = pthread_self()
        let byCaller = Atomic<Int>(0)
        // Slow rows: a lane alone takes about 3 ms a chunk, so the caller finds chunks not done.
        let page = PagePipeline(256, chunkSize: 16, state: {}) { index, _ in
            usleep(200)
            if pthread_equal(pthread_self(), caller) != 0 { byCaller.add(1, ordering: .relaxed) }
            return index
        }
        #expect(try Self.taken(page).flatMap { $0 } == Array(0..<256))
        let worked = byCaller.load(ordering: .relaxed)
        #expect(worked > 0 && worked < 256, "the caller worked \(worked) of 256 rows")
        #expect(worked % 16 == 0, "the caller works whole chunks")
    }

    @Test func aPipelineDroppedStopsItsLanesAfterTheChunksBeingWorked() async throws {
        let worked = Atomic<Int>(0)
        do {
            let page = PagePipeline(2_000, chunkSize: 16, state: {}) { index, _ in
                usleep(500)
                worked.add(1, ordering: .relaxed)
                return index
            }
            #expect(try page.chunk(0) == Array(0..<16))
        }
        try await Task.sleep(for: .milliseconds(100))
        let afterDrop = worked.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(300))
        #expect(worked.load(ordering: .relaxed) == afterDrop, "no row is worked once the chunks being worked are done")
        #expect(afterDrop < 2_000)
    }
}
