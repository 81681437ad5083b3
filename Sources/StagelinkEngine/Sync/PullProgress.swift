/// How far the pulls of a cycle have come, for the EMR's link that runs beside them (``SyncCycle``).
///
/// The link starts only once Salesforce's pull has ended, whose staged changes tell a both-sides
/// change from a one-side change. It takes a resource type's rows in whole bulk batches while that
/// type is still pulled (each time a batch's worth more is staged: ``wait(forType:rows:)``), and the
/// rest once the type's pull has ended. Rows are claimed in the order they were staged, so a
/// record's versions are still linked in order.
///
/// For example:
///
/// ```swift
/// let progress = PullProgress()
/// await progress.staged(10_000, of: "Patient")
/// try await progress.wait(forType: "Patient", rows: 10_000) // false at once: 10,000 more are staged
/// await progress.endType("Patient")
/// try await progress.wait(forType: "Patient", rows: 10_000) // true at once: the pull has ended
/// ```
actor PullProgress {
    private var typesEnded: Set<String> = []
    private var emrEnded = false
    private var salesforceEnded = false
    private var stopped = false
    /// Rows of each type staged by the EMR's pull since a waiter for that type last returned.
    private var stagedSince: [String: Int] = [:]
    /// Who waits: for a type's pull to end or for `rows` more of its rows (type nil: for
    /// Salesforce's pull to end).
    private var waiting: [(type: String?, rows: Int?, continuation: CheckedContinuation<Void, Never>)] = []

    /// The EMR's pull has staged `rows` more rows of `type`.
    func staged(_ rows: Int, of type: String) {
        stagedSince[type, default: 0] += rows
        wake()
    }

    /// The EMR's pull of `type` has ended.
    func endType(_ type: String) {
        typesEnded.insert(type)
        wake()
    }

    /// The EMR's pull has ended, and with it the pull of every type it had not reached; `stopped`
    /// when a stop request or a limit ended it, which ends the link too.
    func endEMRPull(stopped: Bool) {
        emrEnded = true
        self.stopped = self.stopped || stopped
        wake()
    }

    /// Salesforce's pull has ended; `stopped` as for ``endEMRPull(stopped:)``.
    func endSalesforcePull(stopped: Bool) {
        salesforceEnded = true
        self.stopped = self.stopped || stopped
        wake()
    }

    /// Returns true once the EMR's pull of `type` has ended, or false once `rows` more of its rows
    /// have been staged since the last wait for `type` returned (nil: only at its end); throws
    /// ``SyncStopped`` when a pull was stopped, so that nothing more is linked in this cycle (as
    /// nothing is when the link waits for the pulls).
    ///
    /// `restartingCount` false leaves the rows counted for the next wait (the wait before the link
    /// job starts, whose first pass takes them).
    @discardableResult
    func wait(forType type: String, rows: Int? = nil, restartingCount: Bool = true) async throws(SyncStopped) -> Bool {
        if !isReady(type, rows: rows) {
            await withCheckedContinuation { waiting.append((type, rows, $0)) }
        }
        if stopped { throw SyncStopped() }
        if restartingCount { stagedSince[type] = 0 }
        return isEnded(type)
    }

    /// Returns once Salesforce's pull has ended; throws as ``wait(forType:rows:)``.
    func waitForSalesforce() async throws(SyncStopped) {
        if !isReady(nil, rows: nil) {
            await withCheckedContinuation { waiting.append((nil, nil, $0)) }
        }
        if stopped { throw SyncStopped() }
    }

    private func isEnded(_ type: String?) -> Bool {
        guard !stopped else { return true }
        guard let type else { return salesforceEnded }
        return emrEnded || typesEnded.contains(type)
    }

    private func isReady(_ type: String?, rows: Int?) -> Bool {
        if isEnded(type) { return true }
        guard let type, let rows else { return false }
        return stagedSince[type, default: 0] >= rows
    }

    private func wake() {
        let ready = waiting.filter { isReady($0.type, rows: $0.rows) }
        waiting.removeAll { isReady($0.type, rows: $0.rows) }
        for waiter in ready { waiter.continuation.resume() }
    }
}
