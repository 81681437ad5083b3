/// Where the org processes its Bulk API ingest jobs: one job at a time, each caller waiting its
/// turn by suspending, not by holding a thread.
///
/// A job writes its records a chunk of 200 at a time under the org's lock (``SalesforceOrg/state``,
/// as Salesforce runs each chunk as one transaction). Two jobs processed at once, by two polls on
/// the server's two threads, only took turns at that lock, and the one waiting did not sleep:
/// `Synchronization.Mutex` is a priority-inheritance futex on Linux, whose waiter spins in the
/// kernel while the holder runs. Profiled during the first load of `stagelink bench --only
/// full-load` (release build, 3 December), that spinning took 4.3 s of CPU on the machine's two
/// cores, beside the load it was slowing (docs/performance.md). Processed one at a time, the
/// jobs take as long in all, and the poll that waits holds no core.
///
/// For example:
///
/// ```swift
/// let processed = await bulkLane.run { self.process(job, actor: actor) }
/// ```
actor BulkProcessingLane {
    /// `work`'s result; no other job's work runs while it does (callers take turns in the
    /// actor's order, which is not promised to be the order they called in).
    func run<Result: Sendable>(_ work: @Sendable () -> Result) -> Result { work() }
}
