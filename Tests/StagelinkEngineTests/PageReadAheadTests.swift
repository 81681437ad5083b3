import Synchronization
import Testing

@testable import StagelinkEngine

/// A search's pages are read ahead of their staging, a few at most, and handed on in order.
struct PageReadAheadTests {
    /// A source of `count` empty pages, `page-0` … , that counts the reads it answered.
    final class Pages: Sendable {
        let count: Int
        let failing: Int?
        let reads = Atomic<Int>(0)

        init(count: Int, failing: Int? = nil) {
            self.count = count
            self.failing = failing
        }

        func read(_ cursor: PageCursor?) async throws -> SourcePage {
            let index = cursor.map { Int($0.value.dropFirst("page-".count))! } ?? 0
            reads.add(1, ordering: .sequentiallyConsistent)
            if index == failing { throw SyncStopped() }
            return SourcePage(records: [], next: index + 1 < count ? PageCursor("page-\(index + 1)") : nil, total: index)
        }
    }

    @Test func pagesComeInOrderAndEndAfterTheLastOne() async throws {
        let source = Pages(count: 7)
        let reading = PageReadAhead(capacity: 3, read: source.read)
        defer { reading.close() }
        var seen: [Int?] = []
        while let page = try await reading.next() { seen.append(page.total) }
        #expect(seen == Array(0..<7))
        #expect(try await reading.next() == nil)
        #expect(source.reads.load(ordering: .sequentiallyConsistent) == 7)
    }

    @Test func noMoreThanTheCapacityIsReadAheadOfWhatIsTaken() async throws {
        let source = Pages(count: 50)
        let reading = PageReadAhead(capacity: 4, read: source.read)
        defer { reading.close() }
        _ = try await reading.next()
        try await Task.sleep(for: .milliseconds(200))
        // One taken, four waiting, and the fifth read holds until there is room.
        #expect(source.reads.load(ordering: .sequentiallyConsistent) <= 1 + 4 + 1)
        _ = try await reading.next()
        try await Task.sleep(for: .milliseconds(200))
        #expect(source.reads.load(ordering: .sequentiallyConsistent) <= 2 + 4 + 1)
    }

    @Test func anErrorComesAfterThePagesReadBeforeIt() async throws {
        let reading = PageReadAhead(capacity: 4, read: Pages(count: 10, failing: 3).read)
        defer { reading.close() }
        for expected in 0..<3 { #expect(try await reading.next()?.total == expected) }
        await #expect(throws: SyncStopped.self) { try await reading.next() }
    }

    @Test func closingStopsTheReading() async throws {
        let source = Pages(count: 1_000)
        let reading = PageReadAhead(capacity: 2, read: source.read)
        _ = try await reading.next()
        reading.close()
        try await Task.sleep(for: .milliseconds(200))
        let reads = source.reads.load(ordering: .sequentiallyConsistent)
        #expect(reads <= 1 + 2 + 1)
        try await Task.sleep(for: .milliseconds(200))
        #expect(source.reads.load(ordering: .sequentiallyConsistent) == reads)
    }
}
