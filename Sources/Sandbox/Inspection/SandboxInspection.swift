/// Read-only views of the sandbox for tests and the demo, and its reset: counts, the seeded truth,
/// the history of writes of a record, and records as they are now.
///
/// For example:
///
/// ```swift
/// let history = sandbox.inspection.history(.salesforce, "Contact", contactID)
/// #expect(history.last?.actor == sandbox.inspection.userID("stagelink.integration@sandbox.example"))
/// ```
public struct SandboxInspection: Sendable {
    let world: SandboxWorld

    /// Calls, writes and faults per endpoint group, and record counts.
    public func counts() -> SandboxCounts {
        let ledger = world.ledger.snapshot()
        return SandboxCounts(
            calls: ledger.calls, writes: ledger.writes, faults: world.faults.injectedCounts,
            mutationWrites: ledger.mutationWrites, salesforceRecords: world.salesforce.recordCounts,
            fhirResources: world.emr.resourceCounts, apiUsage: world.salesforce.apiUsage)
    }

    /// The `Prefer` header values the calls to an endpoint group carried (what a client asked of
    /// the server: `handling=strict`, `respond-async`, `return=minimal`).
    public func preferHeaders(_ endpoint: SandboxEndpoint) -> Set<String> { world.ledger.preferences(endpoint) }

    /// Every seeded record, good or bad, with the field at fault of each bad one.
    public func truth() -> [SeededRecord] { world.truth }

    /// The writes made to one record, oldest first.
    public func history(_ system: SandboxSystem, _ type: String, _ id: String) -> [WriteRecord] {
        world.ledger.history(system, type, id)
    }

    /// Every record deleted or merged away at its source (by a person, the mutation driver or an
    /// API call), oldest first: what a proof's verdict expects to have reached the other side.
    public func removals() -> [Removal] {
        world.ledger.removals()
    }

    /// A Salesforce record in the Recycle Bin with all its fields (`IsDeleted`, `MasterRecordId`);
    /// nil for a live one.
    public func recycledSalesforceRecord(_ object: String, id: String) -> WireJSON? {
        world.salesforce.recycledRecord(object, id: id)
    }

    /// A Salesforce record with all its fields, as `GET /sobjects/{Object}/{Id}` returns it.
    public func salesforceRecord(_ object: String, id: String) -> WireJSON? {
        try? world.salesforce.record(object, id: id, fields: nil, apiVersion: "v60.0")
    }

    /// The Salesforce records of one object, as JSON with all fields.
    public func salesforceRecords(_ object: String) -> [WireJSON] {
        world.salesforce.store.records(of: object).compactMap { salesforceRecord(object, id: $0.id) }
    }

    /// A FHIR resource as it is now.
    public func fhirResource(_ type: String, id: String) -> WireJSON? {
        world.emr.entry(type, id).map { .object($0.resource) }
    }

    /// The FHIR resources of one type, in creation order.
    public func fhirResources(_ type: String) -> [WireJSON] {
        world.emr.entries(type).map { .object($0.resource) }
    }

    /// Every access token either simulator has issued, expired ones included: what a security
    /// check looks for in log lines.
    public func issuedTokens() -> [String] {
        (world.salesforce.issuedTokens + world.emr.issuedTokens).sorted()
    }

    /// The Salesforce user id (`005…`) of a username, if the org has that user.
    public func userID(_ username: String) -> String? {
        world.salesforce.state.withLock { $0.userIDs[username] }
    }

    /// The id of the human user whose edits the mutation driver makes.
    public var humanUserID: String {
        world.salesforce.user(
            named: SeedGenerator.admissionsCoordinator.username, displayName: SeedGenerator.admissionsCoordinator.name)
    }

    /// Replaces a FHIR resource as a clinician would in the EMR (a new version, not by Stagelink):
    /// how a test or the demo fixes a bad record at its source.
    public func editFHIRResource(_ type: String, id: String, resource: WireJSON) throws {
        guard let object = resource.objectValue else { throw SandboxError.editRefused("the resource must be a JSON object") }
        do {
            _ = try world.emr.update(object, type: type, id: id, ifMatch: nil, actor: SeedGenerator.clinician, endpoint: nil)
        } catch {
            throw SandboxError.editRefused("the EMR refused the edit: \(error.diagnostics)")
        }
    }

    /// Serves `body` as the current version of FHIR `type/id`, byte for byte, in search pages and
    /// reads: invalid JSON, invalid UTF-8 and everything the normal create path would refuse. The
    /// EMR's own validation is bypassed on purpose; this is how hostile payloads reach a client.
    ///
    /// For example:
    ///
    /// ```swift
    /// sandbox.inspection.plantRawFHIRResource("Patient", id: "bad-utf8", body: Array(#"{"resourceType":"Patient","id":"bad-utf8","name":[{"family":"\#u{FF}"}]}"#.utf8))
    /// ```
    public func plantRawFHIRResource(_ type: String, id: String, body: [UInt8]) {
        _ = world.emr.plantRaw(body, type: type, id: id)
    }

    /// Changes fields of a Salesforce record as a person in the org would (not the integration user).
    public func editSalesforceRecord(_ object: String, id: String, fields: WireObject) throws {
        do {
            try world.salesforce.update(object, id: id, body: fields, actor: humanUserID, endpoint: nil)
        } catch {
            throw SandboxError.editRefused("Salesforce refused the edit: \(error)")
        }
    }

    /// Gives the integration users Edit access to a Salesforce field, or takes it away (field-level
    /// security of their permission set): a read-only field is neither `createable` nor
    /// `updateable` in their describe, and their writes of it fail with
    /// `INVALID_FIELD_FOR_INSERT_UPDATE`.
    ///
    /// For example:
    ///
    /// ```swift
    /// try sandbox.inspection.setFieldEditable("Contact", field: "Phone", editable: false)
    /// ```
    public func setFieldEditable(_ object: String, field: String, editable: Bool) throws {
        do {
            try world.salesforce.setFieldEditable(object, field: field, editable: editable)
        } catch {
            throw SandboxError.invalidSetting("no field \(field) on \(object)")
        }
    }

    /// The Salesforce fields the integration users may read but not write, as `Object.Field`.
    public var readOnlyFields: [String] { world.salesforce.readOnlyFields }

    /// Deletes a FHIR resource as a clinician would in the EMR (a deletion version; reads answer 410).
    public func deleteFHIRResource(_ type: String, id: String) throws {
        guard world.emr.delete(type, id: id, actor: SeedGenerator.clinician, endpoint: nil) != nil else {
            throw SandboxError.editRefused("the EMR has no \(type)/\(id)")
        }
    }

    /// Merges Patient `loser` into `survivor` as the EHR's own screens would: the loser inactive
    /// and `replaced-by` the survivor, the survivor `replaces` the loser.
    public func mergeFHIRPatients(survivor: String, loser: String) throws {
        do {
            try world.emr.mergePatients(survivor: survivor, loser: loser, actor: SeedGenerator.clinician)
        } catch {
            throw SandboxError.editRefused("the EMR refused the merge: \(error.diagnostics)")
        }
    }

    /// Deletes a Salesforce record as a person in the org would (to the Recycle Bin).
    public func deleteSalesforceRecord(_ object: String, id: String) throws {
        do {
            try world.salesforce.delete(object, id: id, actor: humanUserID, endpoint: nil)
        } catch {
            throw SandboxError.editRefused("Salesforce refused the deletion: \(error)")
        }
    }

    /// Back-dates every deletion in the org's Recycle Bin and delete log by `days`, as if it had been
    /// made that long ago, without moving the clock (which would expire every session and sign-in
    /// assertion): after 15 days the Recycle Bin has purged a record and QueryAll no longer returns it.
    public func ageRecycleBin(days: Int) {
        world.salesforce.state.withLock { $0.store.backdateDeletions(bySeconds: Double(days) * 86_400) }
    }

    /// Merges Salesforce records into `master` as a person would in the org's merge screen.
    public func mergeSalesforceRecords(_ object: String, master: String, losers: [String]) throws {
        do {
            try world.salesforce.merge(object, master: master, losers: losers, actor: humanUserID)
        } catch {
            throw SandboxError.editRefused("Salesforce refused the merge: \(error)")
        }
    }

    /// Empties both simulators, counters, histories and faults, and seeds again from the same seed.
    public func reset() { world.reset() }
}
