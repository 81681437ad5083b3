import Foundation

/// Admissions written to the EMR in `batch` Bundles (FHIR R4 http.html#transaction), where the EMR
/// offers them and takes creates conditionally.
///
/// A batch of admission rows (none sharing a record, ``OutboundLinker/units(_:batchLimit:keys:)``)
/// goes as one Bundle of conditional Patient creates, then one of ServiceRequest creates for those
/// whose Patient the EMR answered, then one Salesforce collections call writing the Patients' ids
/// back onto the Contacts and one writing the ServiceRequests' ids onto the admissions. Each entry's
/// answer is its own row's: a refused entry fails that row alone with the entry's OperationOutcome;
/// a Bundle lost or refused whole (a 5xx, a timeout after the client's retries) fails every row
/// in it transiently, and the next attempt sends them again: the creates are conditional
/// (`If-None-Exist` on the Contact's and the admission's Salesforce ids), so the Patient an earlier
/// attempt made is found, never made twice.
extension OutboundLinker {
    /// The most admission rows a batch carries for the rows `request` claims: the EMR's batch limit
    /// (`emr.batchSize` where its CapabilityStatement offers `batch`) when they may be admissions
    /// (a claim of admissions, or of every type, as the automatic retries claim) and both the
    /// Patient and the ServiceRequest are created conditionally; else 1 (one row at a time). Only
    /// admission rows go in batches (``isAdmission(_:)``).
    func admissionBatchLimit(for request: ClaimRequest) async throws -> Int {
        guard let emr, salesforce != nil, let admissions = mapping.outbound.admissions,
            request.resourceType == nil || request.resourceType == admissions.object,
            let patients = mapping.inbound(named: admissions.patientMapping)
        else {
            if concurrency > 1, let emr, let patients = mapping.outbound.admissions.flatMap({ mapping.inbound(named: $0.patientMapping) }) {
                _ = try? await emr.writeModes(for: patients.resource)
            }
            return 1
        }
        do throws(RemoteCallError) {
            let limit = try await emr.batchLimit()
            guard limit > 1, try await emr.writeModes(for: patients.resource).create == .conditional,
                try await emr.writeModes(for: "ServiceRequest").create == .conditional
            else { return 1 }
            return limit
        } catch {
            // The metadata could not be read now: one row at a time, each reading it again.
            if error.stopsJob { throw error }
            return 1
        }
    }

    /// Whether a row is an admission record (not a deletion or a merge): what goes in batches.
    func isAdmission(_ row: StagedRow) -> Bool {
        row.kind == .record && row.resourceType == mapping.outbound.admissions?.object
    }

    /// Links a batch of admission rows; answers whether a call of it was throttled.
    func processBatch(_ rows: [StagedRow], recorder: JobRecorder) async throws -> Bool {
        let actor = await recorder.actor
        let jobID = await recorder.id
        guard let emr, let salesforce, let admissions = mapping.outbound.admissions else { return false }
        var outcomes: [Int64: LinkOutcome] = [:]
        func fail(_ row: StagedRow, _ error: LinkError) {
            outcomes[row.id] = LinkOutcome(rowID: row.id, actor: actor, at: Date(), status: .failed, attempt: .failed, error: error)
        }
        var throttled = false
        func noteThrottled(_ error: RemoteCallError) {
            if LinkError.throttleCodes.contains(error.error.code) { throttled = true }
        }
        /// A call that failed whole fails each of its rows (a call that stops the job is thrown).
        func failAll(_ plans: [AdmissionPlan], _ error: RemoteCallError) throws {
            let error = try Self.rowError(error, remote: noteThrottled)
            for plan in plans { fail(plan.row, error) }
        }

        var plans: [AdmissionPlan] = []
        for row in rows {
            do {
                let record = try Self.payload(of: row)
                switch try await prepareAdmission(row, record: record, admissions: admissions, forced: false, actor: actor) {
                case .done(let outcome): outcomes[row.id] = outcome
                case .send(let plan): plans.append(plan)
                }
            } catch let error as LinkError {
                fail(row, error)
            }
        }

        // An admission of a Contact that already stands for a Patient joins that Patient, after a
        // search for a second one: it goes on its own (``sendAdmission(_:actor:jobID:)``).
        for plan in plans where !plan.standing.isEmpty {
            do {
                outcomes[plan.row.id] = try await sendAdmission(plan, actor: actor, jobID: jobID)
            } catch {
                fail(plan.row, try Self.rowError(error, remote: noteThrottled))
            }
        }
        plans.removeAll { !$0.standing.isEmpty }

        // The Patients, then the ServiceRequests of those the EMR answered.
        var patients: [Int64: WrittenResource] = [:]
        plans = try await sendBatch(plans, emr: emr, fail: fail, failAll: failAll) { plan in
            .createIfNoneExist(resourceType: plan.patients.resource, identifier: plan.identifier, resource: JSONWriter.compact(plan.patient))
        } check: { (plan, written) throws(LinkError) in
            try plan.checkPatientID(written.id)
            patients[plan.row.id] = written
        }
        // A Patient the EMR found (not created) may have been merged away: its survivor takes the
        // admission, or the row fails before anything else is written.
        var found: [Int64: String] = [:]
        var ready: [AdmissionPlan] = []
        for plan in plans {
            guard var written = patients[plan.row.id] else { continue }
            do {
                found[plan.row.id] = written.id
                written.id = try await admissionPatient(written, contactID: plan.contactID, patients: plan.patients, row: plan.row, emr: emr)
                patients[plan.row.id] = written
                ready.append(plan)
            } catch {
                fail(plan.row, try Self.rowError(error, remote: noteThrottled))
            }
        }
        plans = ready
        // Reached once per admission whose Patient the EMR created or found, as on the one-at-a-time
        // path: the point's passes count admissions (the crash test kills at the Nth), not Bundles.
        for _ in plans { CrashPoints.reach(.emrCreated) }
        var requests: [Int64: WrittenResource] = [:]
        plans = try await sendBatch(plans, emr: emr, fail: fail, failAll: failAll) { plan in
            .createIfNoneExist(
                resourceType: "ServiceRequest", identifier: plan.requestIdentifier,
                resource: JSONWriter.compact(plan.serviceRequest(patientID: patients[plan.row.id]!.id)))
        } check: { (plan, written) throws(LinkError) in
            try plan.checkRequestID(written.id)
            requests[plan.row.id] = written
        }

        // The EMR's ids written back, one collections call for the Contacts and one for the admissions.
        if let patientObject = plans.first?.patients.object {
            plans = try await writeBack(plans, object: patientObject, salesforce: salesforce, fail: fail, failAll: failAll) {
                $0.contactWriteBack(patientID: patients[$0.row.id]!.id)
            }
            plans = try await writeBack(plans, object: admissions.object, salesforce: salesforce, fail: fail, failAll: failAll) {
                $0.admissionWriteBack(requestID: requests[$0.row.id]!.id)
            }
        }
        for _ in plans { CrashPoints.reach(.writebackSent) }  // once per admission, as emr.created
        for plan in plans {
            do {
                outcomes[plan.row.id] = try await admissionOutcome(
                    plan, patient: patients[plan.row.id]!, foundID: found[plan.row.id]!, request: requests[plan.row.id]!, actor: actor, jobID: jobID)
            } catch let error as LinkError {
                fail(plan.row, error)
            }
        }

        try await report(rows.compactMap { outcomes[$0.id] }, of: rows, recorder: recorder)
        return throttled
    }

    /// Writes the EMR's ids back onto `object`'s records in one Salesforce collections call and
    /// answers the plans written; the others are failed with their record's error, or all of them
    /// with the call's when it failed whole.
    ///
    /// A method, not a function local to ``processBatch(_:recorder:)``: the job that emits the
    /// module's interface skips that function's body, and checks a do/catch in a local function of
    /// a skipped body without the outer function's values (`salesforce` here), so it took this
    /// typed-throws call for one that throws nothing and warned that the catch is unreachable
    /// (swiftlang/swift#91025); the compiled code always had it.
    private func writeBack(
        _ plans: [AdmissionPlan], object: String, salesforce: any UpsertTarget, fail: (StagedRow, LinkError) -> Void,
        failAll: ([AdmissionPlan], RemoteCallError) throws -> Void, update: (AdmissionPlan) -> TargetRecordUpdate
    ) async throws -> [AdmissionPlan] {
        guard !plans.isEmpty else { return [] }
        let results: [RecordResult]
        do {
            results = try await salesforce.update(object: object, records: plans.map(update))
        } catch {
            try failAll(plans, error)
            return []
        }
        var written: [AdmissionPlan] = []
        for (index, plan) in plans.enumerated() {
            switch results.indices.contains(index) ? results[index] : nil {
            case .success?: written.append(plan)
            case .failure(let error)?: fail(plan.row, error)
            case nil: fail(plan.row, LinkError(.malformedResponse, message: "Salesforce answered fewer results than records sent"))
            }
        }
        return written
    }

    /// Sends one write per plan in `batch` Bundles of up to the EMR's limit and answers the plans
    /// whose entry was written (and passed `check`); the others are failed with their entry's error,
    /// or with the Bundle's when it failed whole.
    private func sendBatch(
        _ plans: [AdmissionPlan], emr: any ResourceWriter, fail: (StagedRow, LinkError) -> Void, failAll: ([AdmissionPlan], RemoteCallError) throws -> Void,
        write: (AdmissionPlan) -> BatchWrite, check: (AdmissionPlan, WrittenResource) throws(LinkError) -> Void
    ) async throws -> [AdmissionPlan] {
        guard !plans.isEmpty else { return [] }
        let results: [Result<WrittenResource, LinkError>]
        do {
            results = try await emr.batch(plans.map(write))
        } catch {
            try failAll(plans, error)
            return []
        }
        var written: [AdmissionPlan] = []
        for (plan, result) in zip(plans, results) {
            switch result {
            case .success(let resource):
                do throws(LinkError) {
                    try check(plan, resource)
                    written.append(plan)
                } catch {
                    fail(plan.row, error)
                }
            case .failure(let error):
                fail(plan.row, error)
            }
        }
        return written
    }

    /// The error a row fails with when its own work threw `error`: a `LinkError` as it is, a remote
    /// call's error unless the call stops the job (`remote` sees it first). A call that stops the
    /// job, and any other error, is thrown: it is the job's, not the row's.
    static func rowError(_ error: any Error, remote: (RemoteCallError) -> Void = { _ in }) throws -> LinkError {
        switch error {
        case let error as LinkError:
            return error
        case let error as RemoteCallError:
            if error.stopsJob { throw error }
            remote(error)
            return error.error
        default:
            throw error
        }
    }
}
