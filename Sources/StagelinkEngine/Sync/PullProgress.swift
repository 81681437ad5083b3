/// Which pulls of a cycle have ended, for the EMR's link that runs beside them (``SyncCycle``).
///
/// The link takes a resource type's rows only once that type's pull has ended, so that every
/// version of a record that this cycle pulls is staged before any is linked, as when the link
/// waits for the whole pull; and it starts only once Salesforce's pull has ended, whose staged
/// changes tell a both-sides change from a one-side change.
///
/// For example:
///
/// ```swift
/// let progress = PullProgress()
/// await progress.endType("Patient")
/// try await progress.wait(forType: "Patient") // returns at once
/// ```
actor PullProgress {
    private var typesEnded: Set<String> = []
    private var emrEnded = false
    private var salesforceEnded = false
    private var stopped = false
    /// Who waits, for a type's pull (nil: for Salesforce's).
    private var waiting: [(type: String?, continuation: CheckedContinuation<Void, Never>)] = []

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

    /// Returns once the EMR's pull of `type` has ended; throws ``SyncStopped`` when a pull was
    /// stopped, so that nothing more is linked in this cycle (as nothing is when the link waits
    /// for the pulls).
    func wait(forType type: String) async throws(SyncStopped) {
        try await wait(type)
    }

    /// Returns once Salesforce's pull has ended; throws as ``wait(forType:)``.
    func waitForSalesforce() async throws(SyncStopped) {
        try await wait(nil)
    }

    private func wait(_ type: String?) async throws(SyncStopped) {
        if !isEnded(type) {
            await withCheckedContinuation { waiting.append((type, $0)) }
        }
        if stopped { throw SyncStopped() }
    }

    private func isEnded(_ type: String?) -> Bool {
        guard !stopped else { return true }
        guard let type else { return salesforceEnded }
        return emrEnded || typesEnded.contains(type)
    }

    private func wake() {
        let ready = waiting.filter { isEnded($0.type) }
        waiting.removeAll { isEnded($0.type) }
        for waiter in ready { waiter.continuation.resume() }
    }
}
