import StagelinkEngine

/// Reads pages of rows around a position, so that a list holds only what is on screen.
protocol RowPager: Sendable {
    /// The first `limit` rows.
    func first(limit: Int) async throws -> [StagedRowSummary]
    /// The last `limit` rows, in display order.
    func last(limit: Int) async throws -> [StagedRowSummary]
    /// Up to `limit` rows after `row`.
    func after(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary]
    /// Up to `limit` rows before `row`, in display order.
    func before(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary]
    /// Up to `limit` rows from where `row` stood when it was read, itself included if it is still
    /// there: how a window reloads in place when the store changed.
    func from(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary]
    func count() async throws -> Int
}

/// Rows matching a filter, in a sort order, read by keyset over the store's indexes: a page
/// costs the same at the millionth row as at the first.
struct KeysetRowPager: RowPager {
    var store: any ConsoleStore
    var filter: RowFilter
    var sort: RowSort

    func first(limit: Int) async throws -> [StagedRowSummary] {
        try await store.rows(RowQuery(filter: filter, sort: sort, limit: limit))
    }

    func last(limit: Int) async throws -> [StagedRowSummary] {
        try await store.rows(RowQuery(filter: filter, sort: sort, backwards: true, limit: limit))
    }

    func after(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        try await store.rows(RowQuery(filter: filter, sort: sort, after: row.cursor(for: sort), limit: limit))
    }

    func before(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        try await store.rows(RowQuery(filter: filter, sort: sort, after: row.cursor(for: sort), backwards: true, limit: limit))
    }

    /// A cursor a hair before the row (same sort value, the neighbouring id) includes the row itself
    /// when it still sorts there, and lands where it was when it moved away or left the filter.
    func from(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        var cursor = row.cursor(for: sort)
        cursor.id += sort.descending ? 1 : -1
        return try await store.rows(RowQuery(filter: filter, sort: sort, after: cursor, limit: limit))
    }

    func count() async throws -> Int {
        try await store.countRows(filter)
    }
}

/// A fixed list of rows by id (the rows a link or retry job tried), read a window at a time.
struct RowListPager: RowPager {
    var store: any ConsoleStore
    /// Ascending.
    var ids: [Int64]

    func first(limit: Int) async throws -> [StagedRowSummary] { try await rows(ids.prefix(limit)) }
    func last(limit: Int) async throws -> [StagedRowSummary] { try await rows(ids.suffix(limit)) }

    func after(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        let start = position(of: row.id)
        let next = start < ids.count && ids[start] == row.id ? start + 1 : start
        return try await rows(ids[next...].prefix(limit))
    }

    func before(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        let end = position(of: row.id)
        return try await rows(ids[..<end].suffix(limit))
    }

    func from(_ row: StagedRowSummary, limit: Int) async throws -> [StagedRowSummary] {
        try await rows(ids[position(of: row.id)...].prefix(limit))
    }

    func count() async throws -> Int { ids.count }

    /// The index of `id`, or of the first larger id, by binary search.
    private func position(of id: Int64) -> Int {
        var low = 0
        var high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private func rows(_ slice: ArraySlice<Int64>) async throws -> [StagedRowSummary] {
        var rows: [StagedRowSummary] = []
        for id in slice {
            if let row = try await store.row(id: id) { rows.append(row.summary) }
        }
        let names = try await store.personNames(ofRows: rows.map(\.id))
        for index in rows.indices { rows[index].personName = names[rows[index].id] }
        return rows
    }
}
