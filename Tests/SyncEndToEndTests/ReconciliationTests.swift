import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import Testing

/// Reconciliation against the sandbox: what a delta pull missed is staged, a deletion the system
/// reports is handled by the mapping's rule, and a record missing without a reported deletion is
/// held for a person, never deleted.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ReconciliationTests {
    static func reconcile(_ sync: SyncHarness, objects: [String] = [], resources: [String] = []) async throws -> Job {
        let plan = sync.cycle.plan(objects: objects, resources: resources, reason: "asked for by dana")
        let (jobs, stopped) = try await sync.cycle.reconcile(plan, actor: .operator("dana"), trigger: .manual, stop: StopSignal())
        #expect(!stopped)
        try #require(jobs.count == 1)
        return jobs[0]
    }

    /// Moves a watermark an hour ahead: the next pull starts after the edits a test makes, as when
    /// a change never moved the cursor (a timestamp visible late, a formula field).
    static func keepCursorAhead(_ sync: SyncHarness, _ system: SourceSystem, _ type: String) async throws {
        _ = try await sync.store.stage([], job: nil, advancing: WatermarkAdvance(system: system, resourceType: type, to: Date().addingTimeInterval(3600)))
    }

    @Test func aPatientChangeTheDeltaPullMissedIsStagedByReconciliationAndThenLinked() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await DeletionEndToEndTests.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        // Stagelink's own writes of the first cycle are read back (and suppressed as echoes) first.
        _ = try await sync.sync()
        try await Self.keepCursorAhead(sync, .emr, "Patient")
        var edited = try #require(sync.inspection.fhirResource("Patient", id: patient))
        edited["gender"] = "other"
        try sync.inspection.editFHIRResource("Patient", id: patient, resource: edited)
        let rowsBefore = try await sync.rows(.emr, "Patient", patient).count
        _ = try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", patient).count == rowsBefore, "the delta pull does not see the edit")

        let linked = try await sync.store.linkedRecords(system: .emr, resourceType: "Patient").count
        let job = try await Self.reconcile(sync, resources: ["Patient"])
        #expect(job.kind == .reconcile)
        #expect(job.direction == .inbound)
        #expect(job.status == .succeeded)
        #expect(job.message == "asked for by dana")
        #expect(job.counts.checked == linked)
        #expect(job.counts.changed == 1)
        #expect(job.counts.staged == 1)
        #expect(job.counts.missing == 0)
        let staged = try #require(try await sync.rows(.emr, "Patient", patient).last)
        #expect(staged.jobID == job.id)
        #expect(staged.kind == .record)
        #expect(staged.status == .staged)
        // A full resource, not the listing's subset.
        #expect(String(decoding: staged.payload, as: UTF8.self).contains(#""gender":"other""#))
        #expect(!String(decoding: staged.payload, as: UTF8.self).contains("SUBSETTED"))

        _ = try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", patient).last?.status == .linked)
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["Gender__c"] == "Other")

        // Nothing differs any more: a second reconciliation stages nothing.
        let again = try await Self.reconcile(sync, resources: ["Patient"])
        #expect(again.counts.changed == 0)
        #expect(again.counts.staged == 0)
    }

    @Test func aContactChangeTheDeltaPullMissedIsStagedInOneListingCallAndOneFetch() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await DeletionEndToEndTests.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        _ = try await sync.sync()
        try await Self.keepCursorAhead(sync, .salesforce, "Contact")
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.editSalesforceRecord("Contact", id: contactID, fields: WireObject([("Phone", "(555) 010-4477")]))
        _ = try await sync.sync()
        #expect(try await sync.rows(.salesforce, "Contact", contactID).allSatisfy { !String(decoding: $0.payload, as: UTF8.self).contains("010-4477") })

        let linked = try await sync.store.linkedRecords(system: .salesforce, resourceType: "Contact").count
        let job = try await Self.reconcile(sync, objects: ["Contact"])
        #expect(job.direction == .outbound)
        #expect(job.counts.checked == linked)
        #expect(job.counts.changed == 1)
        #expect(job.counts.staged == 1)
        #expect(job.apiCalls == 2, "one QueryAll page lists every Contact, one query fetches the changed one")
        let staged = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(String(decoding: staged.payload, as: UTF8.self).contains("010-4477"))
        _ = try await sync.sync()
        #expect(try await sync.rows(.salesforce, "Contact", contactID).last?.status == .linked)
    }

    @Test func reportedDeletionsAreStagedAndHandledByTheMappingsRules() async throws {
        let sync = try await SyncHarness.start(patients: 12, badShare: 0)
        defer { Task { await sync.stop() } }
        let (deletedPatient, other, contacts) = try await DeletionEndToEndTests.linkedPair(sync)
        let flaggedContact = try #require(contacts[deletedPatient]?.first?["Id"]?.stringValue)
        let deletedContact = try #require(contacts[other]?.first?["Id"]?.stringValue)
        // Stagelink's own writes are read back (suppressed as echoes) before the deletions: a
        // write of the last cycle not read back yet is a change reconciliation would find too.
        _ = try await sync.sync()
        _ = try await sync.sync()
        sync.sandbox.clock.advance(by: .seconds(10))
        try sync.inspection.deleteFHIRResource("Patient", id: deletedPatient)
        try sync.inspection.deleteSalesforceRecord("Contact", id: deletedContact)

        // The EMR's deletion: absent from the listing, reported by its instance history.
        let emrJob = try await Self.reconcile(sync, resources: ["Patient"])
        #expect(emrJob.counts.changed == 1)
        #expect(emrJob.counts.missing == 0)
        let notice = try #require(try await sync.rows(.emr, "Patient", deletedPatient).last)
        #expect(notice.kind == .deletion)
        #expect(String(decoding: notice.payload, as: UTF8.self).contains(#""method":"DELETE""#))
        // Salesforce's deletion: in the Recycle Bin, listed by QueryAll.
        let salesforceJob = try await Self.reconcile(sync, objects: ["Contact"])
        #expect(salesforceJob.counts.changed == 1)
        #expect(salesforceJob.counts.missing == 0)
        #expect(try await sync.rows(.salesforce, "Contact", deletedContact).last?.kind == .deletion)

        _ = try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", deletedPatient).last?.status == .linked)
        #expect(sync.inspection.salesforceRecord("Contact", id: flaggedContact)?["EMR_Deleted__c"] == true)
        #expect(sync.inspection.fhirResource("Patient", id: other)?["active"] == false)
    }

    @Test func aContactMissingWithoutAReportedDeletionIsHeldForAPersonNeverDeleted() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await DeletionEndToEndTests.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        _ = try await sync.sync()
        try sync.inspection.deleteSalesforceRecord("Contact", id: contactID)
        // Sixteen days later the Recycle Bin has purged it: QueryAll no longer returns it.
        sync.inspection.ageRecycleBin(days: 16)

        let job = try await Self.reconcile(sync, objects: ["Contact"])
        #expect(job.counts.missing == 1)
        #expect(job.counts.changed == 0)
        #expect(job.counts.staged == 1)
        let candidate = try #require(try await sync.rows(.salesforce, "Contact", contactID).last)
        #expect(candidate.kind == .deletion)
        #expect(candidate.status == .failed)
        #expect(candidate.error?.code == ErrorCode.deletionCandidate.rawValue)
        #expect(candidate.error?.message.contains("reconciliation job \(job.id)") == true)
        let payload = String(decoding: candidate.payload, as: UTF8.self)
        #expect(payload.contains(#""stagelink":{"reconciliation":"missing"}"#))
        #expect(payload.contains(#""EMR_Patient_Id__c":"\#(patient)""#))

        // Cycles leave it to a person: the Patient stays active.
        _ = try await sync.sync()
        _ = try await sync.sync()
        #expect(try await sync.store.row(id: candidate.id)?.status == .failed)
        #expect(sync.inspection.fhirResource("Patient", id: patient)?["active"] != false)
        // Still missing at the next reconciliation: counted again, not staged again.
        let again = try await Self.reconcile(sync, objects: ["Contact"])
        #expect(again.counts.missing == 1)
        #expect(again.counts.staged == 0)

        // A person confirms the deletion: the onDelete rule applies.
        let retry = try await sync.operations.retry(.rows([candidate.id]), by: "dana")
        #expect(retry.job.counts.linked == 1)
        #expect(sync.inspection.fhirResource("Patient", id: patient)?["active"] == false)
    }

    @Test func anEHRPulledByBulkExportIsReconciledThroughAFullExportOfIdsAndVersions() async throws {
        // A certified EHR: population searches refused, "what changed since" is the Group export.
        let (sync, patient, contactID) = try await DeletionEndToEndTests.certifiedLinkedPatient()
        defer { Task { await sync.stop() } }
        let contacts = sync.salesforce("Contact", by: "EMR_Patient_Id__c")
        let deleted = try #require(
            sync.inspection.fhirResources("Patient").compactMap { $0["id"]?.stringValue }.first { $0 != patient && contacts[$0]?.count == 1 })
        let flagged = try #require(contacts[deleted]?.first?["Id"]?.stringValue)
        _ = try await sync.sync()
        // The next exports start after the edits below (a change that never moved the cursor).
        for resource in sync.mapping.inboundResources { try await Self.keepCursorAhead(sync, .emr, resource) }
        sync.sandbox.clock.advance(by: .seconds(10))
        var edited = try #require(sync.inspection.fhirResource("Patient", id: patient))
        edited["gender"] = "other"
        try sync.inspection.editFHIRResource("Patient", id: patient, resource: edited)
        try sync.inspection.deleteFHIRResource("Patient", id: deleted)
        sync.sandbox.clock.advance(by: .seconds(1))
        let rowsBefore = try await sync.rows(.emr, "Patient", patient).count
        _ = try await sync.sync()
        #expect(try await sync.rows(.emr, "Patient", patient).count == rowsBefore, "the export pull does not see the edit")
        #expect(try await sync.rows(.emr, "Patient", deleted).allSatisfy { $0.kind == .record }, "nor the deletion")

        let linked = try await sync.store.linkedRecords(system: .emr, resourceType: "Patient").count
        let job = try await Self.reconcile(sync, resources: ["Patient"])
        #expect(job.status == .succeeded, "\(job.message ?? "")")
        #expect(job.counts.checked == linked)
        #expect(job.counts.changed == 2, "the edit, and the deletion its instance history reports")
        #expect(job.counts.staged == 2)
        #expect(job.counts.missing == 0)
        // The listing was one full export asking for ids and versions only (no refused population search).
        let events = try await sync.store.recentEvents(limit: 500).filter { $0.jobID == job.id }.map(\.message)
        #expect(events.contains { $0.contains("listed by Bulk Data export") }, "\(events)")
        let edit = try #require(try await sync.rows(.emr, "Patient", patient).last)
        #expect(edit.jobID == job.id)
        #expect(String(decoding: edit.payload, as: UTF8.self).contains(#""gender":"other""#))
        #expect(!String(decoding: edit.payload, as: UTF8.self).contains("SUBSETTED"), "the full resource, read by _id")
        #expect(try await sync.rows(.emr, "Patient", deleted).last?.kind == .deletion)

        _ = try await sync.sync()
        #expect(sync.inspection.salesforceRecord("Contact", id: contactID)?["Gender__c"] == "Other")
        #expect(sync.inspection.salesforceRecord("Contact", id: flagged)?["EMR_Deleted__c"] == true)
        // Nothing differs any more.
        let again = try await Self.reconcile(sync, resources: ["Patient"])
        #expect(again.counts.changed == 0)
        #expect(again.counts.missing == 0)
    }

    @Test func aCycleWhoseSalesforceWatermarkIsOlderThanTheDeletedWindowReconcilesAndSaysWhy() async throws {
        let sync = try await SyncHarness.start(patients: 10, badShare: 0)
        defer { Task { await sync.stop() } }
        let (patient, _, contacts) = try await DeletionEndToEndTests.linkedPair(sync)
        let contactID = try #require(contacts[patient]?.first?["Id"]?.stringValue)
        try sync.inspection.deleteSalesforceRecord("Contact", id: contactID)
        sync.inspection.ageRecycleBin(days: 16)
        // The last pull, seen from sixteen days later.
        var cycle = sync.cycle
        cycle.now = { Date().addingTimeInterval(16 * 86_400) }
        let report = try await cycle.run(actor: .system, stop: StopSignal())

        let job = try #require(report.jobs.first { $0.kind == .reconcile })
        #expect(job.direction == .outbound)
        #expect(job.trigger == .scheduled)
        #expect(job.message?.contains("older than the 15 days Salesforce keeps deleted records") == true)
        #expect(job.message?.contains("Contact") == true)
        #expect(job.counts.missing == 1)
        #expect(job.counts.checked >= 2)
        #expect(try await sync.rows(.salesforce, "Contact", contactID).last?.error?.code == ErrorCode.deletionCandidate.rawValue)
        #expect(!report.jobs.contains { $0.kind == .reconcile && $0.direction == .inbound }, "only the Salesforce side is beyond its window")

        // With the watermark current again, the next cycle does not reconcile.
        #expect(try await sync.sync().jobs.allSatisfy { $0.kind != .reconcile })
    }

    @Test func scheduleReconcileRunsWhenDueAndNotBefore() async throws {
        let sync = try await SyncHarness.start(patients: 6, badShare: 0)
        defer { Task { await sync.stop() } }
        var cycle = sync.cycle
        cycle.settings.reconcileEvery = .seconds(86_400)
        let first = try await cycle.run(actor: .system, stop: StopSignal())
        let reconciliations = first.jobs.filter { $0.kind == .reconcile }
        #expect(reconciliations.map(\.direction) == [.outbound, .inbound])
        #expect(reconciliations.allSatisfy { $0.message == "schedule.reconcile: every 24h" })
        #expect(try await cycle.run(actor: .system, stop: StopSignal()).jobs.allSatisfy { $0.kind != .reconcile })
        cycle.now = { Date().addingTimeInterval(86_401) }
        #expect(try await cycle.run(actor: .system, stop: StopSignal()).jobs.filter { $0.kind == .reconcile }.count == 2)
    }
}
