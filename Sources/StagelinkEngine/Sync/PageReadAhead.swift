/// A source's pages read ahead of their staging, at most ``capacity`` at once, in order.
///
/// A search's next page is known only from the page before it (its `next` link), so pages are read
/// one after the other; staging a page is a write that waits its turn behind the link's writes
/// to the same store. Read one page ahead, a page whose staging waited held up the reading of the
/// next; read a few ahead, the reading goes on at the source's pace while staging catches up, and
/// the pull takes as long as the longer of the two instead of the sum of each page's longer step.
///
/// For example:
///
/// ```swift
/// let pages = PageReadAhead(capacity: 4) { cursor in try await source.page(request, after: cursor) }
/// defer { pages.close() }
/// while let page = try await pages.next() { … }
/// ```
final class PageReadAhead: Sendable {
    private let buffer: Buffer
    private let reader: Task<Void, Never>

    /// Starts reading: `read(nil)` first, then `read(next)` with each page's `next` cursor until a
    /// page has none, an error (handed on in its turn), or ``close()``.
    init(capacity: Int, read: @escaping @Sendable (PageCursor?) async throws -> SourcePage) {
        let buffer = Buffer(capacity: max(1, capacity))
        self.buffer = buffer
        reader = Task {
            var cursor: PageCursor?
            while true {
                let result: Result<SourcePage, any Error>
                do {
                    result = .success(try await read(cursor))
                } catch {
                    result = .failure(error)
                }
                guard await buffer.put(result) else { return }
                guard case .success(let page) = result, let next = page.next else { return }
                cursor = next
            }
        }
    }

    /// The next page in order, nil after the last; throws the error that ended the reading once the
    /// pages before it were taken.
    func next() async throws -> SourcePage? {
        try await buffer.take()
    }

    /// The page ``next()`` will give after the one just taken, when it is read already; nil when
    /// it is not (or the reading ended). It stays in its place.
    func upcoming() async -> SourcePage? {
        await buffer.peek()
    }

    /// Stops reading: a page read meanwhile is dropped (read again by the next pull, from the
    /// watermark the staged pages moved).
    func close() {
        reader.cancel()
        Task { [buffer] in await buffer.close() }
    }

    private actor Buffer {
        let capacity: Int
        private var results: [Result<SourcePage, any Error>] = []
        private var ended = false
        private var closed = false
        private var taker: CheckedContinuation<Void, Never>?
        private var putter: CheckedContinuation<Void, Never>?

        init(capacity: Int) { self.capacity = capacity }

        /// False once closed: the reader stops.
        func put(_ result: Result<SourcePage, any Error>) async -> Bool {
            while results.count >= capacity && !closed {
                await withCheckedContinuation { putter = $0 }
            }
            guard !closed else { return false }
            results.append(result)
            // A failure or the last page ends the reading.
            ended = (try? result.get())?.next == nil
            taker?.resume()
            taker = nil
            return true
        }

        func take() async throws -> SourcePage? {
            while results.isEmpty {
                if ended || closed { return nil }
                await withCheckedContinuation { taker = $0 }
            }
            let result = results.removeFirst()
            putter?.resume()
            putter = nil
            return try result.get()
        }

        func peek() -> SourcePage? {
            try? results.first?.get()
        }

        func close() {
            closed = true
            putter?.resume()
            putter = nil
            taker?.resume()
            taker = nil
        }
    }
}
