import Foundation
import GRDBSQLite
import StagelinkEngine
import StagelinkFakes
import StagelinkStore

/// The engine and store figures of issue 2: staging throughput against raw sqlite3 in the same
/// run, linking throughput against an in-memory target, and memory while staging a million rows.
public enum EngineBenchmarks {
    /// About 1 KB of FHIR Patient JSON, different for every `index`.
    public static func patientPayload(_ index: Int) -> [UInt8] {
        let families = ["Müller", "Peña", "王", "Łukasz", "O'Brien", "Nakamura", "Okafor", "Johansson"]
        let given = ["Zoë", "José", "芳", "Anna", "Siobhán", "Kenji", "Chidi", "Astrid"]
        let text = """
            {"resourceType":"Patient","id":"p\(index)","meta":{"versionId":"1","lastUpdated":"2026-11-2\(index % 7)T08:\(10 + index % 50):00.000Z"},\
            "identifier":[{"system":"https://emr.example.org/mrn","value":"MRN\(100000 + index)"}],"active":true,\
            "name":[{"use":"official","family":"\(families[index % 8])","given":["\(given[index % 8])","\(given[(index + 3) % 8])"]}],\
            "telecom":[{"system":"phone","value":"+1 555 \(1000 + index % 9000)","use":"home"},{"system":"email","value":"patient\(index)@example.org"}],\
            "gender":"\(["female", "male", "other", "unknown"][index % 4])","birthDate":"19\(50 + index % 50)-0\(1 + index % 9)-1\(index % 10)",\
            "address":[{"use":"home","line":["\(index) Harbour Street","Flat \(index % 40)"],"city":"Springfield","state":"IL","postalCode":"62\(700 + index % 300)","country":"US"}],\
            "maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Married"}]},\
            "communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-US","display":"English (United States)"}]},"preferred":true}],\
            "generalPractitioner":[{"reference":"Practitioner/pr\(index % 100)","display":"Dr. Example \(index % 100)"}],\
            "managingOrganization":{"reference":"Organization/o1","display":"Stagelink Demo Behavioral Health"}}
            """
        return Array(text.utf8)
    }

    static func record(_ index: Int) -> IncomingRecord {
        IncomingRecord(
            system: .emr, resourceType: "Patient", sourceID: "p\(index)", version: "1",
            lastUpdated: Date(timeIntervalSince1970: 1_790_000_000 + Double(index)), payload: patientPayload(index))
    }

    /// Staging `count` Patients through the store, in pages of 500, beside raw sqlite3 inserts of the
    /// same bytes (hashes included) into the same schema.
    public static func staging(count: Int) async throws -> BenchmarkFigure {
        let records = (0..<count).map(record)
        let rate = try await stagingRate(records, encrypted: false)
        let rawSeconds = try measure { try rawInsert(records) }
        let rawRate = Double(count) / rawSeconds
        return BenchmarkFigure(
            name: "stage \(count.formatted()) FHIR Patients (~1 KB) through the store", value: rate, unit: "rows/s",
            reference: .init(name: "raw sqlite3 C API insert, same schema and bytes", value: rawRate), target: "≥ 50,000 rows/s and ≥ 0.5× raw",
            meetsTarget: rate >= 50_000 && rate / rawRate >= 0.5)
    }

    /// Rows per second staging `records` into a new store, in pages of 500.
    static func stagingRate(_ records: [IncomingRecord], encrypted: Bool) async throws -> Double {
        let store = try SQLiteStore.temporary("bench-stage", encrypted: encrypted)
        defer { discard(store) }
        let cpuBefore = ProcessMemory.cpuSeconds()
        defer {
            if ProcessInfo.processInfo.environment["STAGELINK_BENCH_CPU"] != nil {
                print("stage cpu seconds: \(ProcessMemory.cpuSeconds() - cpuBefore) (\(encrypted ? "encrypted" : "clear"))")
            }
        }
        let seconds = try await measure { try await stageAsAPuller(records, into: store) }
        return Double(records.count) / seconds
    }

    /// Stages `records` in pages of 500 as a puller does (``DeltaPuller``): each page said to come
    /// next while the one before is staged, up to the store's pages in flight at once
    /// (``PageStaging``). Throws unless every record was staged once.
    static func stageAsAPuller(_ records: [IncomingRecord], into store: any StagingStore) async throws {
        let pages = stride(from: 0, to: records.count, by: 500).map { Array(records[$0..<min($0 + 500, records.count)]) }
        var staged = 0
        let staging = PageStaging<Void>(store: store, job: nil) { _, result in staged += result.staged }
        for (index, page) in pages.enumerated() {
            if index + 1 < pages.count { store.prepareToStage(pages[index + 1]) }
            try await staging.stage(page, advancing: nil, context: ())
        }
        try await staging.finish()
        guard staged == records.count else { throw BenchmarkError.wrongCount(expected: records.count, got: staged) }
    }

    /// Staging and linking with encryption at rest (issue 21) beside the same without, in the same
    /// run: payloads and value copies sealed with AES-256-GCM, keyed content hashes.
    ///
    /// Each figure is the median of measurements taken in turns (without, with, without, with, …),
    /// each on a new store, so that a change of load during the run, the page cache warming up or
    /// the allocator growing falls on both sides alike instead of on whichever runs second:
    /// `rounds` of linking and `stagingRounds` of staging, five each: staging's measurements last
    /// about a second, short enough for one stall of a shared machine to move one by a fifth, and
    /// with three linking measurements one slow turn of either side moved the ratio by a tenth.
    public static func encryption(count: Int, mapping: MappingDocument, rounds: Int = 5, stagingRounds: Int = 5) async throws -> [BenchmarkFigure] {
        let records = (0..<count).map(record)
        var staging: (clear: [Double], sealed: [Double]) = ([], [])
        var linking: (clear: [Double], sealed: [Double]) = ([], [])
        for _ in 0..<max(stagingRounds, 1) {
            staging.clear.append(try await stagingRate(records, encrypted: false))
            staging.sealed.append(try await stagingRate(records, encrypted: true))
        }
        for _ in 0..<max(rounds, 1) {
            linking.clear.append(try await linkingRate(count: count, mapping: mapping, encrypted: false))
            linking.sealed.append(try await linkingRate(count: count, mapping: mapping, encrypted: true))
        }
        let (clearStaging, sealedStaging) = (percentile(staging.clear, 0.5), percentile(staging.sealed, 0.5))
        let (clearLinking, sealedLinking) = (percentile(linking.clear, 0.5), percentile(linking.sealed, 0.5))
        let of = { (rounds: Int) in rounds > 1 ? ", median of \(rounds) in turns" : "" }
        return [
            BenchmarkFigure(
                name: "stage \(count.formatted()) FHIR Patients into an encrypted store\(of(stagingRounds))", value: sealedStaging, unit: "rows/s",
                reference: .init(name: "the same into a store without a key", value: clearStaging), target: "≥ 0.8× without encryption",
                meetsTarget: sealedStaging / clearStaging >= 0.8),
            BenchmarkFigure(
                name: "link \(count.formatted()) staged Patients in an encrypted store\(of(rounds))", value: sealedLinking, unit: "rows/s",
                reference: .init(name: "the same in a store without a key", value: clearLinking), target: "≥ 0.8× without encryption",
                meetsTarget: sealedLinking / clearLinking >= 0.8),
        ]
    }

    /// The reference: sqlite3's C API, one prepared statement, one transaction per 500 rows, WAL,
    /// `synchronous = NORMAL` and the writer's cache and checkpoint settings, as the store uses.
    static func rawInsert(_ records: [IncomingRecord]) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-raw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var db: OpaquePointer?
        guard sqlite3_open(folder.appendingPathComponent("raw.sqlite").path, &db) == SQLITE_OK, let db else { throw BenchmarkError.sqlite("open") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchmarkError.sqlite(String(cString: sqlite3_errmsg(db))) }
        }
        try exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \(SQLiteStore.writerPragmas)")
        try exec(StoreMigrations.schemaV1)
        var statement: OpaquePointer?
        var payloadStatement: OpaquePointer?
        let sql = """
            INSERT INTO staged_row (system, resourceType, sourceID, version, lastUpdated, contentHash, jobID, receivedAt, status, updatedAt)
            VALUES (?, ?, ?, ?, ?, ?, NULL, ?, 'staged', ?) ON CONFLICT (system, resourceType, sourceID, contentHash) DO NOTHING
            """
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK,
            sqlite3_prepare_v2(db, "INSERT INTO staged_payload (rowID, payload) VALUES (?, ?)", -1, &payloadStatement, nil) == SQLITE_OK
        else { throw BenchmarkError.sqlite("prepare") }
        defer {
            sqlite3_finalize(statement)
            sqlite3_finalize(payloadStatement)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        let now = Date().timeIntervalSince1970
        for page in stride(from: 0, to: records.count, by: 500) {
            try exec("BEGIN")
            for record in records[page..<min(page + 500, records.count)] {
                sqlite3_bind_text(statement, 1, record.system.rawValue, -1, transient)
                sqlite3_bind_text(statement, 2, record.resourceType, -1, transient)
                sqlite3_bind_text(statement, 3, record.sourceID, -1, transient)
                sqlite3_bind_text(statement, 4, record.version, -1, transient)
                sqlite3_bind_double(statement, 5, record.lastUpdated?.timeIntervalSince1970 ?? 0)
                sqlite3_bind_text(statement, 6, record.contentHash, -1, transient)
                sqlite3_bind_double(statement, 7, now)
                sqlite3_bind_double(statement, 8, now)
                guard sqlite3_step(statement) == SQLITE_DONE else { throw BenchmarkError.sqlite(String(cString: sqlite3_errmsg(db))) }
                sqlite3_reset(statement)
                guard sqlite3_changes(db) == 1 else { continue }
                sqlite3_bind_int64(payloadStatement, 1, sqlite3_last_insert_rowid(db))
                _ = record.payload.withUnsafeBytes { sqlite3_bind_blob(payloadStatement, 2, $0.baseAddress, Int32($0.count), transient) }
                guard sqlite3_step(payloadStatement) == SQLITE_DONE else { throw BenchmarkError.sqlite(String(cString: sqlite3_errmsg(db))) }
                sqlite3_reset(payloadStatement)
            }
            try exec("COMMIT")
        }
    }

    /// Linking `count` staged Patients into an in-memory target, through the whole linker
    /// (mapping, policy, field states, lineage, batches of 200).
    public static func linking(count: Int, mapping: MappingDocument) async throws -> BenchmarkFigure {
        let rate = try await linkingRate(count: count, mapping: mapping, encrypted: false)
        return BenchmarkFigure(
            name: "link \(count.formatted()) staged Patients into an in-memory target", value: rate, unit: "rows/s", target: "≥ 10,000 rows/s",
            meetsTarget: rate >= 10_000)
    }

    /// Rows per second linking `count` staged Patients into an in-memory target.
    static func linkingRate(count: Int, mapping: MappingDocument, encrypted: Bool, workers: Int = 1) async throws -> Double {
        let store = try SQLiteStore.temporary("bench-link", encrypted: encrypted)
        defer { discard(store) }
        return try await linkingRate(count: count, mapping: mapping, store: store, workers: workers)
    }

    /// Rows per second linking `count` Patients staged into `store` (empty) into an in-memory
    /// target, with `workers` workers (``InboundLinker/workers``).
    static func linkingRate(count: Int, mapping: MappingDocument, store: any SyncStore, workers: Int) async throws -> Double {
        try await mapping.loadPolicy(into: store)
        for page in stride(from: 0, to: count, by: 500) {
            _ = try await store.stage((page..<min(page + 500, count)).map(record), job: nil, advancing: nil)
        }
        let target = InMemoryUpsertTarget()
        var linker = InboundLinker(store: store, target: target, mapping: mapping)
        linker.workers = workers
        var linked = 0
        let cpuBefore = ProcessMemory.cpuSeconds()
        defer { if ProcessInfo.processInfo.environment["STAGELINK_BENCH_CPU"] != nil { print("link cpu seconds: \(ProcessMemory.cpuSeconds() - cpuBefore)") } }
        let seconds = try await measure {
            let recorder = try await JobRecorder.start(.link, direction: .inbound, actor: .system, store: store, meters: [target.meter], logger: .init(label: "bench"))
            try await linker.linkPending(recorder: recorder, stop: StopSignal())
            linked = try await recorder.finish().counts.linked
        }
        guard linked == count else { throw BenchmarkError.wrongCount(expected: count, got: linked) }
        return Double(count) / seconds
    }

    /// Resident memory while staging `count` rows: the figure is the growth from the first tenth
    /// to the end, which stays near zero when memory is flat.
    public static func stagingMemory(count: Int) async throws -> BenchmarkFigure {
        let store = try SQLiteStore.temporary("bench-memory")
        defer { discard(store) }
        let pageSize = 500
        var samples: [Double] = []
        for page in stride(from: 0, to: count, by: pageSize) {
            _ = try await store.stage((page..<min(page + pageSize, count)).map(record), job: nil, advancing: nil)
            if (page + pageSize) % (count / 10) == 0 { samples.append(ProcessMemory.residentMegabytes()) }
        }
        let first = samples.first ?? 0
        let last = samples.last ?? 0
        return BenchmarkFigure(
            name: "resident memory staging \(count.formatted()) rows (at 10% → at 100%)", value: last, unit: "MB",
            reference: .init(name: "resident memory after the first 10%", value: first), target: "flat: grows < 20 MB from 10% to 100%",
            meetsTarget: last - first < 20)
    }

    /// Deletes a store made by `SQLiteStore.temporary` with its folder: a full run writes
    /// gigabytes, which must not be left behind in the temporary directory.
    static func discard(_ store: SQLiteStore) {
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: store.path).deletingLastPathComponent())
    }

    static func measure(_ work: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await work()
        return (ContinuousClock.now - start).seconds
    }

    static func measure(_ work: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try work()
        return (ContinuousClock.now - start).seconds
    }
}

public enum BenchmarkError: Error, CustomStringConvertible {
    case sqlite(String)
    case wrongCount(expected: Int, got: Int)

    public var description: String {
        switch self {
        case .sqlite(let message): "sqlite3: \(message)"
        case .wrongCount(let expected, let got): "expected \(expected) records, got \(got)"
        }
    }
}

/// This process's memory, read from /proc.
public enum ProcessMemory {
    /// Resident set size now, in MB.
    public static func residentMegabytes() -> Double { field("VmRSS:") }
    /// CPU time this process used so far (user + system), in seconds.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// The highest resident set size so far, in MB.
    public static func peakMegabytes() -> Double { field("VmHWM:") }

    private static func field(_ name: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "")
        else { return 0 }
        return kilobytes / 1024
    }
}
