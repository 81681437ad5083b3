import Foundation

/// What a reconciliation compares, and why it runs (the job keeps the reason as its message).
public struct ReconciliationPlan: Sendable, Hashable {
    /// Salesforce objects to compare.
    public var objects: [String]
    /// EMR resource types to compare.
    public var resources: [String]
    public var reason: String

    public init(objects: [String], resources: [String], reason: String) {
        self.objects = objects
        self.resources = resources
        self.reason = reason
    }
}

extension SyncCycle {
    /// How far back Salesforce reports deletions: records stay in the Recycle Bin, where QueryAll
    /// sees them, for 15 days, and `GET /sobjects/{type}/deleted` answers for "no more than 15 days
    /// previous to the day the call is executed" (REST API "sObject Get Deleted").
    public static let deletedWindow: Duration = .seconds(15 * 86_400)

    /// A plan for these objects and resources (every mapped one when nil).
    public func plan(objects: [String]? = nil, resources: [String]? = nil, reason: String) -> ReconciliationPlan {
        ReconciliationPlan(objects: objects ?? outboundLinker.objects, resources: resources ?? mapping.inboundResources, reason: reason)
    }

    /// Salesforce objects whose watermark is older than the deleted window: deletions made since
    /// may already have left the Recycle Bin, and no pull can see them any more.
    func watermarksBeyondDeletedWindow(_ objects: [String], now: Date) async throws -> [(object: String, watermark: Date)] {
        var stale: [(object: String, watermark: Date)] = []
        for object in objects {
            if let watermark = try await store.watermark(system: .salesforce, resourceType: object),
                now.timeIntervalSince(watermark) > Self.deletedWindow.seconds
            {
                stale.append((object, watermark))
            }
        }
        return stale
    }

    /// The reconciliation a cycle runs now, if any: every mapped type when `schedule.reconcile` is
    /// due, and otherwise the Salesforce objects whose watermark is beyond the deleted window.
    func reconciliationPlan(beyondWindow: [(object: String, watermark: Date)], now: Date) async throws -> ReconciliationPlan? {
        if let every = settings.reconcileEvery {
            let last = try await store.lastJob(JobSelection(kinds: [.reconcile], statuses: JobSelection.completed))
            if last.map({ now.timeIntervalSince($0.startedAt) >= every.seconds }) ?? true {
                return plan(reason: "schedule.reconcile: every \(every.compactText)")
            }
        }
        guard !beyondWindow.isEmpty else { return nil }
        let named = beyondWindow.map { "\($0.object) (\(Timestamp.formatSeconds($0.watermark)))" }.joined(separator: ", ")
        return plan(
            objects: beyondWindow.map(\.object), resources: [],
            reason: "the Salesforce watermark of \(named) is older than the 15 days Salesforce keeps deleted records: "
                + "reconciled instead of trusting the pull to have seen every deletion")
    }

    /// Runs a reconciliation: one job for the Salesforce objects (direction outbound), one for the
    /// EMR resources (inbound). Returns the jobs and whether a stop or a limit ended them.
    public func reconcile(_ plan: ReconciliationPlan, actor: Actor, trigger: Job.Trigger, stop: StopSignal) async throws -> ([Job], stopped: Bool) {
        var jobs: [Job] = []
        let outbound = outboundLinker
        if !plan.objects.isEmpty, let source = endpoints.salesforceSource as? any ReconcileSource {
            let (job, stopped) = try await runStep(.reconcile, .outbound, actor: actor, trigger: trigger, message: plan.reason) { recorder in
                await recorder.event(.info, "reconciling \(plan.objects.joined(separator: ", ")): \(plan.reason)")
                let reconciler = Reconciler(store: store, source: source)
                for object in plan.objects {
                    try await reconciler.reconcile(
                        object, fields: outbound.pullFields(for: object), carrying: carriedFields(object), into: recorder, stop: stop)
                }
            }
            jobs.append(job)
            if stopped { return (jobs, true) }
        }
        guard !plan.resources.isEmpty, let source = endpoints.emrSource as? any ReconcileSource else { return (jobs, false) }
        let (job, stopped) = try await runStep(.reconcile, .inbound, actor: actor, trigger: trigger, message: plan.reason) { recorder in
            var reconciler = Reconciler(store: store, source: source, pageSize: 1000, fetchSize: 100)
            if settings.emrPull == .bulk {
                // A certified EHR refuses the population search the listing is: a full export lists the records.
                guard let bulk = endpoints.emrBulk else { throw OperationError.notConfigured("emr.pull: bulk needs an EMR that offers Bulk Data export") }
                reconciler.export = ExportListing(source: bulk, settings: settings.bulk)
            }
            await recorder.event(
                .info, "reconciling \(plan.resources.joined(separator: ", "))\(reconciler.export == nil ? "" : " (listed by Bulk Data export)"): \(plan.reason)")
            for resource in plan.resources { try await reconciler.reconcile(resource, into: recorder, stop: stop) }
        }
        jobs.append(job)
        return (jobs, stopped)
    }

    /// What a Salesforce deletion candidate keeps of its record's last payload: the Contact's
    /// external id, which the `onDelete` rule follows to its Patient.
    private func carriedFields(_ object: String) -> [String] {
        guard let contacts = mapping.outbound.contacts, contacts.object == object, let patients = mapping.inbound(named: contacts.mapping) else { return [] }
        return [patients.externalID]
    }
}
