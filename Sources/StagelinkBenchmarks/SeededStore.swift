import Foundation
import StagelinkEngine
import StagelinkStore

/// A store that looks like a working deployment, for the console's benchmark, tests and a look by
/// hand: staged EMR patients (Zoë, 王芳, and one whose name is a terminal escape sequence) and
/// Salesforce admissions; failures in five error codes, each with the other system's own answer;
/// linked rows with their lineage; open and decided conflicts; jobs over the last hours with an
/// inbound cycle running; events; the policy with a change by hand; and the service's lease.
///
/// Rows are staged in pages through `stage` and failed through `claimRows` and `record`, as the
/// linker does.
///
/// For example:
///
/// ```swift
/// let store = try SQLiteStore.temporary("console")
/// try await SeededStore.fill(store, mapping: mapping, rows: 1_000_000, failures: 50_000)
/// ```
public enum SeededStore {
    /// What was put where, for tests to find specific rows.
    public struct Contents: Sendable {
        /// The row whose patient is named Zoë Müller.
        public var zoeRowID: Int64
        /// The row whose patient is named 王芳.
        public var wangFangRowID: Int64
        /// The row whose family name holds `ESC ] 0 ;`, `ESC [ 2 J` and a C1 control.
        public var hostileRowID: Int64
        /// A Salesforce admission row, for push.
        public var admissionRowID: Int64
        /// A linked row with lineage and a conflict.
        public var linkedRowID: Int64
        /// A failed row whose error names `Birthdate`.
        public var birthdateFailureRowID: Int64
        public var failedRowIDs: [Int64]
        /// The error codes used, largest group first.
        public static let errorCodes = [ErrorCode.invalidField, .mappingInvalidDate, .unableToLockRow, .requiredFieldMissing, .duplicateValue].map(\.rawValue)
    }

    /// The patient names the seeded rows take in turn; the first two are the ones tests look for.
    static let names: [(given: String, family: String)] = [
        ("Zoë", "Müller"), ("芳", "王"), ("José", "Peña"), ("Siobhán", "O'Brien"), ("Kenji", "Nakamura"), ("Chidi", "Okafor"), ("Astrid", "Johansson"),
        ("Łukasz", "Nowak"),
    ]

    /// The hostile name: an OSC title change, a screen clear and a C1 CSI.
    public static let hostileFamily = "\u{1b}]0;pwned\u{07}\u{1b}[2J\u{9b}31m"

    @discardableResult
    public static func fill(_ store: SQLiteStore, mapping: MappingDocument, rows: Int, failures: Int, now: Date = Date()) async throws -> Contents {
        try await mapping.loadPolicy(into: store)
        _ = try await store.setPolicyRule(
            object: "Contact", field: "Phone", rule: .hold, actor: .operator("dana"), reason: "front desk and EMR disagree on numbers: review by hand")

        let pull = try await store.startJob(kind: .pull, direction: .inbound, actor: .system)
        var firstID: Int64?
        var admissionID: Int64 = 0
        var hostileID: Int64 = 0
        for page in stride(from: 0, to: rows, by: 500) {
            let records = (page..<min(page + 500, rows)).map(record)
            let result = try await store.stage(records, job: pull.id, advancing: nil)
            if firstID == nil { firstID = result.rowIDs.first }
            if page == 0 {
                admissionID = result.rowIDs[min(99, result.rowIDs.count - 1)]
                hostileID = result.rowIDs[min(7, result.rowIDs.count - 1)]
            }
        }
        var finishedPull = pull
        finishedPull.status = .succeeded
        finishedPull.counts = Job.Counts(pulled: rows, staged: rows)
        finishedPull.startedAt = now.addingTimeInterval(-8 * 3600)
        finishedPull.finishedAt = now.addingTimeInterval(-8 * 3600 + 600)
        try await store.updateJob(finishedPull)

        let base = firstID ?? 1
        let failed = try await fail(store, rows: rows, failures: failures, firstID: base, now: now)
        let linked = try await link(store, rowIDs: [base, base + 1, base + 2, base + 3], now: now)
        try await addJobs(store, now: now)
        try await addEvents(store, now: now)
        _ = try await store.acquireLease(LeaseHolder(name: "stagelink", host: "demo-host", pid: 4242), for: .seconds(600))
        return Contents(
            zoeRowID: base + 8, wangFangRowID: base + 9, hostileRowID: hostileID, admissionRowID: admissionID, linkedRowID: linked,
            birthdateFailureRowID: failed.first ?? base, failedRowIDs: failed)
    }

    // MARK: - Rows

    /// Row `index` of the store: a Patient, every hundredth an Admission from Salesforce, and the
    /// eighth the hostile name.
    public static func record(_ index: Int) -> IncomingRecord {
        if index % 100 == 99 {
            let id = "a0B5g0000\(String(format: "%06d", index))"
            let text = """
                {"attributes":{"type":"Admission__c","url":"/services/data/v60.0/sobjects/Admission__c/\(id)"},"Id":"\(id)",\
                "Stage__c":"Ready for Intake","Contact__c":"0035g0000\(String(format: "%06d", index))","Referral_Source__c":"Self",\
                "SystemModstamp":"2026-11-26T08:00:00.000+0000"}
                """
            return IncomingRecord(
                system: .salesforce, resourceType: "Admission__c", sourceID: id, version: nil, lastUpdated: Date(timeIntervalSince1970: 1_790_000_000),
                payload: Array(text.utf8))
        }
        let name = index == 7 ? (given: "Mallory", family: hostileFamily) : names[index % names.count]
        var patient = (try? JSONValue(parsing: EngineBenchmarks.patientPayload(index))) ?? .null
        if case .object(var object) = patient {
            object["name"] = [["use": "official", "family": .string(name.family), "given": [.string(name.given)]]]
            patient = .object(object)
        }
        return IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p\(index)", version: "1", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000 + Double(index)),
            payload: JSONWriter.compact(patient))
    }

    /// The error a failed row gets, by its place among the failures: the five codes in shares of
    /// 40, 24, 16, 12 and 8 percent, interleaved so that even a few failures have every code.
    static func error(_ index: Int) -> LinkError {
        switch index * 7 % 25 {
        case 0..<10:
            LinkError(
                .invalidField, message: "Birthdate (birthDate): value not of required type: 1984-02-30", fields: ["Birthdate"],
                remoteBody: #"[{"errorCode":"INVALID_FIELD","message":"Birthdate: value not of required type: 1984-02-30","fields":["Birthdate"]}]"#)
        case 10..<16:
            LinkError(.mappingInvalidDate, message: "Birthdate (birthDate) is not a date (expected YYYY-MM-DD)", fields: ["Birthdate"])
        case 16..<20:
            LinkError(
                .unableToLockRow, message: "unable to obtain exclusive access to this record", fields: [],
                remoteBody: #"[{"errorCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record or 1 records","fields":[]}]"#)
        case 20..<23:
            LinkError(
                .requiredFieldMissing, message: "LastName (name[0].family) is required", fields: ["LastName"],
                remoteBody: #"[{"errorCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]"#)
        default:
            LinkError(
                .duplicateValue, message: "duplicate value found: EMR_Patient_Id__c duplicates value on another record",
                fields: ["EMR_Patient_Id__c"],
                remoteBody: #"[{"errorCode":"DUPLICATE_VALUE","message":"duplicate value found: EMR_Patient_Id__c duplicates value on record with id: 0035g00000AbCdE","fields":["EMR_Patient_Id__c"]}]"#)
        }
    }

    /// Fails `failures` rows spread evenly over the store, in batches of 1,000, through a link
    /// job's claims.
    private static func fail(_ store: SQLiteStore, rows: Int, failures: Int, firstID: Int64, now: Date) async throws -> [Int64] {
        guard failures > 0 else { return [] }
        let job = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        let stride = max(1, rows / failures)
        // Start past the first dozen rows, which tests read as they were staged.
        let ids = (0..<min(failures, rows)).map { firstID + 16 + Int64($0 * stride) }.filter { $0 < firstID + Int64(rows) }
        var failedIDs: [Int64] = []
        for batch in Swift.stride(from: 0, to: ids.count, by: 1_000) {
            let wanted = Array(ids[batch..<min(batch + 1_000, ids.count)])
            let claimed = try await store.claimRows(ClaimRequest(statuses: [.staged], rowIDs: wanted), limit: wanted.count, actor: .job(job.id))
            let outcomes = claimed.enumerated().map { offset, row in
                LinkOutcome(rowID: row.id, actor: .job(job.id), at: now, status: .failed, attempt: .failed, error: error(batch + offset))
            }
            try await store.record(outcomes)
            failedIDs += claimed.map(\.id)
        }
        var finished = job
        finished.status = .partial
        finished.counts = Job.Counts(failed: failedIDs.count)
        // The first load, before the six hours the live view's sparklines cover.
        finished.startedAt = now.addingTimeInterval(-7 * 3600)
        finished.finishedAt = now.addingTimeInterval(-7 * 3600 + 900)
        try await store.updateJob(finished)
        return failedIDs
    }

    /// Links a few rows, with lineage and conflicts (one decided by the rule, one held for a person).
    private static func link(_ store: SQLiteStore, rowIDs: [Int64], now: Date) async throws -> Int64 {
        let job = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        var outcomes: [LinkOutcome] = []
        for id in rowIDs {
            guard let row = try await store.row(id: id) else { continue }
            let record = MappedRecordKey(object: "Contact", key: row.sourceID)
            let writes = [
                FieldWrite(
                    record: record, field: "LastName", value: .text("Müller"), writtenTo: .salesforce, rowID: id, jobID: job.id, rule: .emr, actor: .job(job.id),
                    at: now, reason: "changed in the EMR"),
                FieldWrite(
                    record: record, field: "Birthdate", value: .text("1984-02-29"), writtenTo: .salesforce, rowID: id, jobID: job.id, rule: .emr,
                    actor: .job(job.id), at: now, reason: "changed in the EMR"),
            ]
            let conflicts =
                id == rowIDs[0]
                ? [
                    ConflictRecord(
                        record: record, field: "Phone", rowID: id, emrValue: .text("+1 555 0100"), salesforceValue: .text("+1 555 0199"), rule: .hold,
                        winner: nil),
                    ConflictRecord(
                        record: record, field: "Email", rowID: id, emrValue: .text("zoe@example.org"), salesforceValue: .text("zoe.m@example.org"),
                        rule: .salesforce, winner: .salesforce),
                ] : []
            outcomes.append(LinkOutcome(rowID: id, actor: .job(job.id), at: now, status: .linked, attempt: .linked, writes: writes, conflicts: conflicts))
        }
        try await store.record(outcomes)
        var finished = job
        finished.status = .succeeded
        finished.counts = Job.Counts(linked: outcomes.count, conflicts: 2)
        finished.startedAt = now.addingTimeInterval(-1800)
        finished.finishedAt = now.addingTimeInterval(-1790)
        try await store.updateJob(finished)
        return rowIDs[0]
    }

    // MARK: - Jobs and events

    /// Cycles every fifteen minutes over the last six hours in both directions, and an inbound
    /// cycle running now.
    private static func addJobs(_ store: SQLiteStore, now: Date) async throws {
        for cycle in 0..<24 {
            for direction in Job.Direction.allCases {
                let started = now.addingTimeInterval(Double(cycle - 24) * 900)
                // Each cycle pulls, then links (inbound) or pushes (outbound), as the service records it.
                var pull = try await store.startJob(kind: .pull, direction: direction, actor: .system)
                pull.startedAt = started.addingTimeInterval(-20)
                pull.finishedAt = started
                pull.status = .succeeded
                try await store.updateJob(pull)
                var job = try await store.startJob(kind: .linkStep(of: direction), direction: direction, actor: .system)
                job.startedAt = started
                job.finishedAt = started.addingTimeInterval(40 + Double(cycle % 5) * 7)
                let linked = direction == .inbound ? 180 + (cycle * 37) % 220 : 20 + (cycle * 11) % 40
                let failed = cycle % 6 == 3 ? 14 : (cycle * 5) % 4
                job.counts = Job.Counts(pulled: linked + failed, staged: linked + failed, linked: linked, failed: failed)
                job.status = failed > 0 ? .partial : .succeeded
                job.apiCalls = direction == .inbound ? 2 + linked / 200 : 0
                job.apiUsage = direction == .inbound ? APIUsage(used: 11_200 + cycle * 9, limit: 100_000) : nil
                job.watermarkBefore = started.addingTimeInterval(-900)
                job.watermarkAfter = started
                try await store.updateJob(job)
            }
        }
        var running = try await store.startJob(kind: .link, direction: .inbound, actor: .system)
        running.startedAt = now.addingTimeInterval(-5)
        running.progress = Job.Progress(phase: "linking Patient", done: 620, total: 1_000, updatedAt: now)
        running.counts = Job.Counts(linked: 612, failed: 8)
        try await store.updateJob(running)
    }

    private static func addEvents(_ store: SQLiteStore, now: Date) async throws {
        var events: [SyncEvent] = []
        for index in 0..<30 {
            let at = now.addingTimeInterval(Double(index - 30) * 20)
            switch index % 5 {
            case 0: events.append(SyncEvent(at: at, jobID: 50, level: .info, message: "pulled 200 Patient (page \(index / 5 + 1))"))
            case 1: events.append(SyncEvent(at: at, jobID: 50, level: .info, message: "staged 198, deduplicated 2"))
            case 2: events.append(SyncEvent(at: at, jobID: 51, level: .info, message: "linked 196 Patient into Contact"))
            case 3: events.append(SyncEvent(at: at, jobID: 51, level: .warning, message: "2 rows failed: INVALID_FIELD"))
            default: events.append(SyncEvent(at: at, jobID: nil, level: .error, message: "Salesforce answered 503; retrying in 4s"))
            }
        }
        try await store.appendEvents(events)
    }
}
