import FHIRClient
import Foundation
import Sandbox
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

/// A search pull against the lenient profile (unknown parameters and `_sort` ignored, pages capped,
/// next links on another origin) and the certified one (population searches refused).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LenientPullTests {
    static func lenient(_ configuration: inout SandboxConfiguration) { configuration.emrProfile = .lenient }

    /// A source that fails after handing on `pages` pages, as a pull cut short by a crash or an outage.
    struct Interrupted: ChangeSource {
        let base: FHIRClient
        let pages: Int
        let served = Counter()
        var system: SourceSystem { base.system }
        var meter: APIMeter { base.meter }

        func page(_ request: DeltaRequest, after cursor: PageCursor?) async throws(RemoteCallError) -> SourcePage {
            guard served.next() <= pages else { throw RemoteCallError(.transient, LinkError(code: "HTTP_503", message: "outage")) }
            return try await base.page(request, after: cursor)
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int { lock.withLock { value += 1; return value } }
    }

    static func lenientClient(_ harness: SandboxHarness, allowing: Bool) async throws -> FHIRClient {
        var configuration = harness.fhirConfiguration()
        if allowing {
            configuration.allowedOrigins = [URL(string: harness.sandbox.fhirURL.replacingOccurrences(of: "://127.0.0.1", with: "://localhost"))!]
        }
        return try await FHIRClient(configuration: configuration, logger: SandboxHarness.silent)
    }

    @Test func aSearchPullAsksForStrictHandlingAndStillWorksWhereTheServerIgnoresIt() async throws {
        // FHIR R4 search §3.1.1.1.3: Prefer: handling=strict asks the server to refuse what it
        // does not know, rather than drop it silently; the lenient proxy drops the preference.
        for profile in [EMRProfile.generic, .lenient] {
            try await SandboxHarness.with(patients: 120, configure: { $0.emrProfile = profile }) { harness in
                let store = try SQLiteStore.temporary("strict")
                let emr = try await Self.lenientClient(harness, allowing: true)
                let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: SandboxHarness.silent)
                try await DeltaPuller(store: store, source: emr, pageSize: 50).pull("Patient", into: recorder, stop: StopSignal())
                #expect(harness.sandbox.inspection.preferHeaders(.fhirSearch) == ["handling=strict"], "\(profile): every page asked for strict handling")
                let staged = try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 1000))
                #expect(Set(staged.map(\.sourceID)).count == 120, "\(profile): every patient pulled once")
            }
        }
    }

    @Test func aNextLinkOnAnotherOriginIsRefusedNamingBothUnlessAllowed() async throws {
        try await SandboxHarness.with(patients: 150, configure: Self.lenient) { harness in
            let refused = try await Self.lenientClient(harness, allowing: false)
            let first = try await refused.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 500), after: nil)
            #expect(first.records.count == 100, "the lenient server caps pages")
            #expect(!first.isOrdered, "its self link shows _sort was ignored")
            let cursor = try #require(first.next)
            let error = await #expect(throws: RemoteCallError.self) { _ = try await refused.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 500), after: cursor) }
            #expect(error?.error.code == "ORIGIN_NOT_ALLOWED")
            #expect(error?.error.message.contains("localhost") == true && error?.error.message.contains("127.0.0.1") == true)
            let allowed = try await Self.lenientClient(harness, allowing: true)
            let second = try await allowed.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 500), after: cursor)
            #expect(second.records.count == 50)
        }
    }

    @Test func anUnorderedPullInterruptedMidwayMovesNoWatermarkAndTheNextPullGetsEverything() async throws {
        try await SandboxHarness.with(patients: 250, configure: Self.lenient) { harness in
            // Edits put the newest lastUpdated on the first stored patients: an ordered reading would skip the rest.
            for resource in harness.sandbox.inspection.fhirResources("Patient").prefix(3) {
                var edited = resource.objectValue!
                edited["gender"] = edited["gender"] == "other" ? "unknown" : "other"
                try harness.sandbox.inspection.editFHIRResource("Patient", id: resource["id"]!.stringValue!, resource: .object(edited))
            }
            let store = try SQLiteStore.temporary("lenient")
            let emr = try await Self.lenientClient(harness, allowing: true)
            let recorder = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: SandboxHarness.silent)
            await #expect(throws: RemoteCallError.self) {
                try await DeltaPuller(store: store, source: Interrupted(base: emr, pages: 1), pageSize: 500).pull("Patient", into: recorder, stop: StopSignal())
            }
            #expect(try await store.watermark(system: .emr, resourceType: "Patient") == nil, "an unordered page moves nothing")
            let again = try await JobRecorder.start(.pull, direction: .inbound, actor: .system, store: store, meters: [], logger: SandboxHarness.silent)
            try await DeltaPuller(store: store, source: emr, pageSize: 500).pull("Patient", into: again, stop: StopSignal())
            let staged = try await store.rows(RowQuery(filter: RowFilter(system: .emr, resourceType: "Patient"), limit: 1000))
            #expect(Set(staged.map(\.sourceID)).count == 250)
            let watermark = try #require(try await store.watermark(system: .emr, resourceType: "Patient"))
            let newest = harness.sandbox.inspection.fhirResources("Patient").compactMap { $0["meta"]?["lastUpdated"]?.stringValue.flatMap(Timestamp.parse) }.max()
            #expect(watermark == newest)
        }
    }

    @Test func anOrderedServersFirstPageCountsAsOrdered() async throws {
        try await SandboxHarness.with(patients: 5) { harness in
            let emr = try await harness.fhir()
            #expect(try await emr.page(DeltaRequest(resourceType: "Patient", since: nil, pageSize: 2), after: nil).isOrdered)
            #expect(try await emr.page(DeltaRequest(resourceType: "Patient", since: Date(timeIntervalSince1970: 0), pageSize: 2), after: nil).isOrdered)
        }
    }
}
