import Synchronization

/// When the store takes the planner's statistics of `staged_row` again: once the rows this process
/// staged since they were last taken reach half the table's rows then (and at least
/// ``minimumGrowth``), so a first load refreshes them a handful of times and a steady cycle never.
///
/// Autovacuum takes them too, but only on its own schedule (`autovacuum_naptime`, a minute by
/// default, and then after 10% of the table changed): a first load staging 100,000 rows into an
/// empty table, then claiming them, ran its claims on statistics of a nearly empty table, and the
/// planner read the whole table through `staged_row_content` and sorted it on disk for each claim
/// of 1,000 (about 280 ms a claim, where an ordered scan of the primary key takes a few). PostgreSQL
/// advises the same after any large load ("Populating a Database", §14.4.8 "Run ANALYZE Afterwards":
/// https://www.postgresql.org/docs/current/populate.html#POPULATE-ANALYZE).
final class StagedRowStatistics: Sendable {
    /// Rows staged below which the statistics are never taken again by the store.
    static let minimumGrowth = 10_000

    private struct State {
        var staged = 0
        var threshold = StagedRowStatistics.minimumGrowth
        var taking = false
    }

    private let state = Mutex(State())

    /// Counts `rows` newly staged; true when the caller should now take the statistics (and
    /// then say ``taken(rows:)`` or ``notTaken()``): the rows staged since they were last taken
    /// reached the threshold and no other caller is taking them.
    func staged(_ rows: Int) -> Bool {
        state.withLock { state in
            state.staged += rows
            guard state.staged >= state.threshold, !state.taking else { return false }
            state.taking = true
            return true
        }
    }

    /// The statistics were taken of a table of `rows` rows.
    func taken(rows: Int) {
        state.withLock { state in
            state.staged = 0
            state.threshold = max(Self.minimumGrowth, rows / 2)
            state.taking = false
        }
    }

    /// Taking them failed: the next page staged tries again.
    func notTaken() {
        state.withLock { $0.taking = false }
    }
}
