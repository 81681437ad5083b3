import Foundation
import StagelinkEngine
import Testing

/// `type: date` fields read FHIR dates as they come: partial dates per `partial:`, and the date of a
/// dateTime in the EMR's time zone with `from: datetime`.
struct DateFieldTests {
    /// The default mapping's Admit_Date__c, with these options instead of its own.
    static func field(_ options: String = "", zone: String? = nil) throws -> FieldMapping {
        let shipped = "{ field: Admit_Date__c, path: period.start, type: date, from: datetime, owner: emr }"
        let text = try String(contentsOfFile: Fixtures.mappingPath, encoding: .utf8)
        #expect(text.contains(shipped))
        let yaml = text.replacingOccurrences(of: shipped, with: "{ field: Admit_Date__c, path: period.start, type: date\(options), owner: emr }")
        var mapping = try MappingDocument(yaml: yaml, file: "dates.yaml")
        if let zone { mapping.setEMRTimeZone(TimeZone(identifier: zone)!) }
        return try #require(mapping.inbound(named: "episodes")?.fields.first { $0.field == "Admit_Date__c" })
    }

    static func read(_ text: String, _ field: FieldMapping) -> Result<FieldValue, LinkError> {
        Result { () throws(LinkError) in try FieldConversion.fieldValue(from: .string(text), for: field) }
    }

    @Test func aPartialDateIsRefusedByDefaultNamingThePrecisionItGot() throws {
        let field = try Self.field()
        guard case .failure(let month) = Self.read("1974-11", field), case .failure(let year) = Self.read("1974", field) else {
            Issue.record("a partial date was taken")
            return
        }
        #expect(month.code == "MAPPING_PARTIAL_DATE")
        #expect(month.fields == ["Admit_Date__c"])
        #expect(month.message == "Admit_Date__c (period.start) is a partial date (a year and month only); the mapping's `partial: first-day` would take its first day")
        #expect(year.message.contains("(a year only)"))
        #expect(try Self.read("1974-11-05", field).get() == .text("1974-11-05"))
    }

    @Test func firstDayTakesTheFirstDayOfTheYearOrMonth() throws {
        let field = try Self.field(", partial: first-day")
        #expect(try Self.read("1974-11", field).get() == .text("1974-11-01"))
        #expect(try Self.read("1974", field).get() == .text("1974-01-01"))
        #expect(try Self.read("1974-11-05", field).get() == .text("1974-11-05"))
    }

    @Test(arguments: ["1974-13", "1974-02-30", "1985-13-45", "74", "1974-1", "2026-03-04T10:00:00Z", ""])
    func whatIsNoFHIRDateStaysInvalid(text: String) throws {
        guard case .failure(let error) = Self.read(text, try Self.field(", partial: first-day")) else {
            Issue.record("\(text) was taken as a date")
            return
        }
        #expect(error.code == "MAPPING_INVALID_DATE")
    }

    @Test func fromDatetimeTakesTheDateInTheEMRsTimeZone() throws {
        let utc = try Self.field(", from: datetime")
        let chicago = try Self.field(", from: datetime", zone: "America/Chicago")
        let tokyo = try Self.field(", from: datetime", zone: "Asia/Tokyo")
        // 22:30 in New York on 4 March is 03:30 on 5 March in UTC and 21:30 on 4 March in Chicago.
        #expect(try Self.read("2026-03-04T22:30:00-05:00", utc).get() == .text("2026-03-05"))
        #expect(try Self.read("2026-03-04T22:30:00-05:00", chicago).get() == .text("2026-03-04"))
        #expect(try Self.read("2026-03-04T16:30:00Z", tokyo).get() == .text("2026-03-05"))
        // A dateTime may be a bare or partial date: read as a date, partial ones as `partial:` says.
        #expect(try Self.read("2026-03-04", tokyo).get() == .text("2026-03-04"))
        guard case .failure(let partial) = Self.read("2026-03", utc), case .failure(let zoneless) = Self.read("2026-03-04T10:00:00", utc)
        else {
            Issue.record("a partial or zoneless dateTime was taken")
            return
        }
        #expect(partial.code == "MAPPING_PARTIAL_DATE")
        #expect(zoneless.code == "MAPPING_INVALID_DATE")
    }

    @Test func theDateOfAnInstantBeforeTheEpochIsRight() {
        #expect(CalendarDate(Date(timeIntervalSince1970: -1), in: TimeZone(identifier: "UTC")!).description == "1969-12-31")
        #expect(CalendarDate(Date(timeIntervalSince1970: 0), in: TimeZone(identifier: "America/Chicago")!).description == "1969-12-31")
    }

    @Test func theOptionsBelongToDateFieldsOnly() throws {
        for options in [", from: code", ", partial: sometimes"] {
            #expect(throws: ConfigurationError.self) { _ = try Self.field(options) }
        }
        let text = try String(contentsOfFile: Fixtures.mappingPath, encoding: .utf8)
        let yaml = text.replacingOccurrences(
            of: "{ field: EMR_Patient_Id__c, path: id, required: true, maxLength: 64, owner: emr }",
            with: "{ field: EMR_Patient_Id__c, path: id, required: true, maxLength: 64, owner: emr, partial: first-day }")
        #expect {
            _ = try MappingDocument(yaml: yaml, file: "bad.yaml")
        } throws: { error in
            "\(error)".contains("partial is an option of date fields")
        }
    }

    @Test func theDefaultMappingReadsTheEpisodePeriodAsDateTimes() throws {
        let episodes = try #require(try Fixtures.mapping().inbound(named: "episodes"))
        let dates = episodes.fields.filter { $0.type == .date }
        #expect(dates.map(\.field) == ["Admit_Date__c", "Discharge_Date__c"])
        #expect(dates.allSatisfy { $0.dateSource == .datetime && $0.partialDates == .reject })
    }
}
