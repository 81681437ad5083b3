import Foundation
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

/// The PostgreSQL store's figures (issue 20), each beside the SQLite store's in the same run:
/// `stagelink bench --postgres URL` (a server of one's own: it writes a schema there and drops it).
public enum PostgresBenchmarks {
    /// Staging `count` Patients in pages of 500 into PostgreSQL, beside the same into SQLite.
    public static func staging(count: Int, location: PostgresLocation) async throws -> BenchmarkFigure {
        let records = (0..<count).map(EngineBenchmarks.record)
        let sqlite = try await EngineBenchmarks.stagingRate(records, encrypted: false)
        let rate = try await stagingRate(records, location: location, key: nil)
        return BenchmarkFigure(
            name: "stage \(count.formatted()) FHIR Patients (~1 KB) into PostgreSQL (\(location.host))", value: rate, unit: "rows/s",
            reference: .init(name: "the same into the SQLite store", value: sqlite), target: "≥ 20,000 rows/s", meetsTarget: rate >= 20_000)
    }

    /// Staging `count` Patients into an encrypted PostgreSQL store (`encryption.keyFile`: payloads
    /// sealed, keyed hashes, a blind person index), beside the same into one without a key, in the
    /// same run (issue 21's goal, ≥ 0.8×, on PostgreSQL): the median of `rounds` measurements
    /// taken in turns (without, with, without, …), as on SQLite (``EngineBenchmarks/encryption(count:mapping:rounds:)``).
    public static func encryptedStaging(count: Int, location: PostgresLocation, rounds: Int = 3) async throws -> BenchmarkFigure {
        let records = (0..<count).map(EngineBenchmarks.record)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-pg-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try StoreKey.generate(at: folder.appendingPathComponent("store.key").path)
        var rates: (clear: [Double], sealed: [Double]) = ([], [])
        for _ in 0..<max(rounds, 1) {
            rates.clear.append(try await stagingRate(records, location: location, key: nil))
            rates.sealed.append(try await stagingRate(records, location: location, key: key))
        }
        let (clear, sealed) = (percentile(rates.clear, 0.5), percentile(rates.sealed, 0.5))
        let of = rounds > 1 ? ", median of \(rounds) in turns" : ""
        return BenchmarkFigure(
            name: "stage \(count.formatted()) FHIR Patients into an encrypted PostgreSQL store (\(location.host))\(of)", value: sealed, unit: "rows/s",
            reference: .init(name: "the same into a PostgreSQL store without a key", value: clear), target: "≥ 0.8× without encryption",
            meetsTarget: sealed / clear >= 0.8)
    }

    /// Rows per second staging `records` in pages of 500 into a new PostgreSQL store of its own
    /// schema (dropped after), opened with `key` or none.
    private static func stagingRate(_ records: [IncomingRecord], location: PostgresLocation, key: StoreKey?) async throws -> Double {
        let store = try await PostgresStore(location: location, schema: "bench_" + UUID().uuidString.prefix(8).lowercased(), key: key)
        defer { store.close() }
        let seconds = try await EngineBenchmarks.measure { try await EngineBenchmarks.stageAsAPuller(records, into: store) }
        try await store.dropSchema()
        return Double(records.count) / seconds
    }

    /// The store's half of linking `count` staged Patients: claims of 1,000 rows, and for each row
    /// an outcome (status, attempt, link, field state, lineage) recorded in batches of 1,000, on
    /// PostgreSQL beside SQLite, with one worker and with two claiming their shares at once
    /// (``ClaimPartition``). The linker itself (mapping, the other side's calls) is left out.
    public static func linkingWrites(count: Int, location: PostgresLocation) async throws -> [BenchmarkFigure] {
        let records = (0..<count).map(EngineBenchmarks.record)
        var sqlite: [Int: Double] = [:]
        var postgres: [Int: Double] = [:]
        for workers in [1, 2] {
            let sqliteStore = try SQLiteStore.temporary("bench-link-writes")
            defer { EngineBenchmarks.discard(sqliteStore) }
            sqlite[workers] = try await linkWriteRate(records, store: sqliteStore, workers: workers)
            let store = try await PostgresStore(location: location, schema: "bench_" + UUID().uuidString.prefix(8).lowercased())
            defer { store.close() }
            postgres[workers] = try await linkWriteRate(records, store: store, workers: workers)
            try await store.dropSchema()
        }
        return [1, 2].map { workers in
            let rate = postgres[workers]!
            let reference = sqlite[workers]!
            return BenchmarkFigure(
                name: "claim and record \(count.formatted()) linked outcomes on PostgreSQL (\(location.host)), \(workers) worker\(workers == 1 ? "" : "s")",
                value: rate, unit: "rows/s", reference: .init(name: "the same on the SQLite store", value: reference), target: "≥ 0.5× SQLite",
                meetsTarget: rate >= 0.5 * reference)
        }
    }

    /// Linking `count` staged Patients end to end (the linker's mapping, policy and link lookups,
    /// an in-memory Salesforce) with the store on PostgreSQL, beside the same on SQLite, with one
    /// worker and with two (``InboundLinker/workers``): the figure a user sees, of which
    /// ``linkingWrites(count:location:)`` is the store's part.
    public static func linking(count: Int, location: PostgresLocation, mapping: MappingDocument) async throws -> [BenchmarkFigure] {
        var figures: [BenchmarkFigure] = []
        for workers in [1, 2] {
            let sqlite = try await EngineBenchmarks.linkingRate(count: count, mapping: mapping, encrypted: false, workers: workers)
            let store = try await PostgresStore(location: location, schema: "bench_" + UUID().uuidString.prefix(8).lowercased())
            defer { store.close() }
            let rate = try await EngineBenchmarks.linkingRate(count: count, mapping: mapping, store: store, workers: workers)
            try await store.dropSchema()
            figures.append(
                BenchmarkFigure(
                    name: "link \(count.formatted()) staged Patients into an in-memory target, store on PostgreSQL (\(location.host)), \(workers) worker\(workers == 1 ? "" : "s")",
                    value: rate, unit: "rows/s", reference: .init(name: "the same on the SQLite store", value: sqlite), target: "≥ 0.5× SQLite",
                    meetsTarget: rate >= 0.5 * sqlite))
        }
        return figures
    }

    private static func linkWriteRate(_ records: [IncomingRecord], store: some StagingStore & LinkingStore, workers: Int) async throws -> Double {
        for page in stride(from: 0, to: records.count, by: 500) {
            _ = try await store.stage(Array(records[page..<min(page + 500, records.count)]), job: nil, advancing: nil)
        }
        let seconds = try await EngineBenchmarks.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<workers {
                    var request = ClaimRequest()
                    if workers > 1 { request.partition = ClaimPartition(index: index, of: workers) }
                    group.addTask { try await linkAll(request, store: store, actor: .job(Int64(1 + index))) }
                }
                try await group.waitForAll()
            }
        }
        return Double(records.count) / seconds
    }

    /// One worker: claims and records until its share is linked, each claim after the last row of
    /// the one before, as ``InboundLinker`` claims.
    private static func linkAll(_ request: ClaimRequest, store: some StagingStore & LinkingStore, actor: Actor) async throws {
        var request = request
        while true {
            let rows = try await store.claimRows(request, limit: 1_000, actor: actor)
            guard let last = rows.last else { break }
            request.afterRowID = last.id
            let at = Date()
            try await store.record(
                rows.map { row in
                    let key = MappedRecordKey(object: "Contact", key: row.sourceID)
                    return LinkOutcome(
                        rowID: row.id, actor: actor, at: at, status: .linked, attempt: .linked,
                        links: [
                            RecordLink(
                                source: SourceKey(system: row.system, resourceType: row.resourceType, sourceID: row.sourceID), targetType: "Contact",
                                targetID: "003\(row.id)", recordKey: row.sourceID, linkedRowID: row.id, linkedVersion: row.recordVersion, updatedAt: at)
                        ],
                        fieldStates: [FieldStateChange(record: key, field: "LastName", state: FieldState(synced: .text(row.sourceID)))],
                        writes: [
                            FieldWrite(
                                record: key, field: "LastName", value: .text(row.sourceID), writtenTo: .salesforce, rowID: row.id, jobID: 1, rule: .emr,
                                actor: actor, at: at, reason: "the EMR owns LastName")
                        ])
                })
        }
    }
}
