import Foundation
import StagelinkStore
import Testing

@testable import StagelinkEngine

/// Which of two copies of a record is newer.
struct RecordVersionTests {
    @Test func aTimeReadFromAPayloadEqualsItselfAfterTheStoresRoundTrip() async throws {
        // A time with more digits than a Double keeps once counted from 1970 instead of 2001.
        let read = Date(timeIntervalSinceReferenceDate: 815_432_767.067_905_1)
        let stored = Date(timeIntervalSince1970: read.timeIntervalSince1970)
        let fresh = RecordVersion(version: "1", lastUpdated: read)
        let kept = RecordVersion(version: "1", lastUpdated: stored)
        #expect(!(fresh < kept) && !(kept < fresh))
        #expect(fresh == kept)

        let store = try SQLiteStore.temporary("record-version")
        let record = IncomingRecord(system: .emr, resourceType: "Patient", sourceID: "p1", version: "1", lastUpdated: read, payload: Array("{}".utf8))
        let row = try #require(try await store.row(id: try await store.stage([record], job: nil, advancing: nil).rowIDs[0]))
        #expect(row.recordVersion == record.recordVersion, "the staged row is the same version as the record read")
    }

    @Test func aLaterTimeIsNewerWhateverTheVersionIDs() {
        let earlier = RecordVersion(version: "9", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000))
        let later = RecordVersion(version: "2", lastUpdated: Date(timeIntervalSince1970: 1_790_000_000.001))
        #expect(earlier < later)
        #expect(!(later < earlier))
    }

    @Test func withoutTimesTheNumericVersionIDDecides() {
        #expect(RecordVersion(version: "2", lastUpdated: nil) < RecordVersion(version: "10", lastUpdated: nil))
        #expect(!(RecordVersion(version: nil, lastUpdated: nil) < RecordVersion(version: "1", lastUpdated: nil)))
    }
}
