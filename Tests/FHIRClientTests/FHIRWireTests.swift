import Foundation
import StagelinkEngine
import StagelinkHTTP
import Testing

@testable import FHIRClient

struct FHIRWireTests {
    static let bundle = #"""
        {"resourceType":"Bundle","type":"searchset","total":4,
         "link":[{"relation":"self","url":"https://emr.example.org/fhir/Patient?_count=4"},
                 {"relation":"next","url":"https://emr.example.org/fhir?_getpages=abc&_getpagesoffset=4&_count=4"}],
         "entry":[
          {"fullUrl":"https://emr.example.org/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1","meta":{"versionId":"3","lastUpdated":"2026-11-26T07:26:25.123+00:00"},"birthDate":"1980-02-29",  "name":[{"family":"Quinn"}]},"search":{"mode":"match"}},
          {"fullUrl":"https://emr.example.org/fhir/Patient/p2","resource":{"resourceType":"Patient","id":42,"meta":{"versionId":7,"lastUpdated":true}},"search":{"mode":"match"}},
          {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"informational"}]},"search":{"mode":"outcome"}},
          {"fullUrl":"urn:uuid:9","resource":"not a resource"},
          {"fullUrl":"https://emr.example.org/fhir/Patient/p5"}
         ]}
        """#

    @Test func eachEntryIsHandedOnAsItsExactBytesWithItsVersion() throws {
        let page = try BundlePage.records(in: Array(Self.bundle.utf8), type: "Patient")
        #expect(page.total == 4)
        #expect(page.next == PageCursor("https://emr.example.org/fhir?_getpages=abc&_getpagesoffset=4&_count=4"))
        let first = page.records[0]
        #expect(first.system == .emr)
        #expect(first.resourceType == "Patient")
        #expect(first.sourceID == "p1")
        #expect(first.version == "3")
        #expect(first.lastUpdated == Timestamp.parse("2026-11-26T07:26:25.123Z"))
        #expect(String(decoding: first.payload, as: UTF8.self).hasSuffix(#""birthDate":"1980-02-29",  "name":[{"family":"Quinn"}]}"#))
    }

    @Test func damagedEntriesAreHandedOnWithWhatCouldBeRead() throws {
        let page = try BundlePage.records(in: Array(Self.bundle.utf8), type: "Patient")
        #expect(page.records.count == 3)
        let wrongTypes = page.records[1]
        #expect(wrongTypes.sourceID == "p2")
        #expect(wrongTypes.version == nil)
        #expect(wrongTypes.lastUpdated == nil)
        let notAnObject = page.records[2]
        #expect(notAnObject.sourceID == "urn:uuid:9")
        #expect(notAnObject.payload == Array(#""not a resource""#.utf8))
    }

    /// A Bundle made invalid by one resource, with its good neighbours and paging intact.
    static func bundle(around damaged: [UInt8]) -> [UInt8] {
        Array(#"{"resourceType":"Bundle","type":"searchset","total":3,"link":[{"relation":"next","url":"https://emr.example.org/fhir?_getpages=abc"}],"entry":["#.utf8)
            + Array(#"{"fullUrl":"https://emr.example.org/fhir/Patient/p1","resource":{"resourceType":"Patient","id":"p1"},"search":{"mode":"match"}},"#.utf8)
            + Array(#"{"fullUrl":"https://emr.example.org/fhir/Patient/bad","resource":"#.utf8) + damaged + Array(#","search":{"mode":"match"}},"#.utf8)
            + Array(#"{"fullUrl":"https://emr.example.org/fhir/Patient/p3","resource":{"resourceType":"Patient","id":"p3"},"search":{"mode":"match"}}]}"#.utf8)
    }

    @Test(arguments: [
        Array(#"{"resourceType":"Patient","id":"bad","active":tru}"#.utf8),
        Array(#"{"resourceType":"Patient","id":"bad","name":[{"family":"Sm"#.utf8) + [0xFF] + Array(#"ith"}]}"#.utf8),
        Array(#"{"resourceType":"Patient","id":"bad","id":"other"}"#.utf8),
        Array(#"{"resourceType":"Patient","id":"bad","extension":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 5_000)
            + Array(repeating: UInt8(ascii: "]"), count: 5_000) + [UInt8(ascii: "}")],
        Array(#"{"resourceType":"Patient","id":"bad"}{"resourceType":"Patient"}"#.utf8),
        [0xEF, 0xBB, 0xBF] + Array(#"{"resourceType":"Patient","id":"bad"}"#.utf8),
    ])
    func aResourceThatIsNotValidJSONIsHandedOnVerbatimBesideItsNeighbours(damaged: [UInt8]) throws {
        let page = try BundlePage.records(in: Self.bundle(around: damaged), type: "Patient")
        #expect(page.records.map(\.sourceID).first == "p1")
        #expect(page.records.map(\.sourceID).last == "p3")
        #expect(page.records.count == 3)
        #expect(page.records[1].payload.count >= damaged.count)
        #expect(page.records[1].payload.firstRange(of: damaged) != nil, "the damaged resource is staged as it came")
        #expect(page.next == PageCursor("https://emr.example.org/fhir?_getpages=abc"))
        #expect(page.total == 3)
    }

    @Test func aDamagedResourceIsNamedByItsFullURL() throws {
        let page = try BundlePage.records(in: Self.bundle(around: Array(#"{"resourceType":"Patient",'id':'x'}"#.utf8)), type: "Patient")
        #expect(page.records[1].sourceID == "bad")
        #expect(page.records[1].lastUpdated == nil)
    }

    @Test func aResourceOfAnotherTypeIsStagedAsTheTypeAskedForSoThatItFailsVisibly() throws {
        let page = try BundlePage.records(in: Self.bundle(around: Array(#"{"resourceType":"Account","id":"bad"}"#.utf8)), type: "Patient")
        #expect(page.records.map(\.resourceType) == ["Patient", "Patient", "Patient"])
    }

    @Test func aBundleWhoseLinksOrBracketsAreDamagedIsMalformedAsAWhole() {
        let links = Array(#"{"resourceType":"Bundle","link":[{"relation":"next","url":tru}],"entry":[]}"#.utf8)
        let unbalanced = Self.bundle(around: Array(#"{"resourceType":"Patient","id":"bad","name":[{"family":"A"}}"#.utf8))
        for body in [links, unbalanced] {
            let error = #expect(throws: RemoteCallError.self) { try BundlePage.records(in: body, type: "Patient") }
            #expect(error?.kind == .malformedResponse)
        }
    }

    @Test func aBundleWithoutNextIsTheLastPage() throws {
        let page = try BundlePage.records(in: Array(#"{"resourceType":"Bundle","type":"searchset","total":0}"#.utf8), type: "Patient")
        #expect(page.records.isEmpty && page.next == nil && page.total == 0)
    }

    @Test(arguments: [#"{"resourceType":"Bundle","entry":[{"resource":{"id":"p1"}"#, #"{"resourceType":"OperationOutcome"}"#])
    func anUnreadableOrForeignAnswerIsMalformed(text: String) {
        let error = #expect(throws: RemoteCallError.self) { try BundlePage.records(in: Array(text.utf8), type: "Patient") }
        #expect(error?.kind == .malformedResponse)
    }

    @Test func operationOutcomesBecomeRecordErrors() {
        let body = #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid","diagnostics":"Patient.birthDate: not a date","expression":["Patient.birthDate"]}]}"#
        let error = FHIRErrors.linkError(HTTPResponse(status: 422, body: Array(body.utf8)))
        #expect(error.code == "invalid")
        #expect(error.message == "Patient.birthDate: not a date")
        #expect(error.fields == ["Patient.birthDate"])
        #expect(error.remoteBody == body)
    }

    @Test func a412MeansWhatItsPreconditionSays() {
        let body = #"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"conflict","diagnostics":"Version mismatch","location":["Patient"]}]}"#
        let moved = FHIRErrors.linkError(HTTPResponse(status: 412, body: Array(body.utf8)), precondition: .ifMatch)
        #expect(moved.code == "VERSION_MOVED")
        #expect(moved.isTransient)
        #expect(moved.fields == ["Patient"])
        let duplicates = FHIRErrors.linkError(HTTPResponse(status: 412, body: Array(body.utf8)), precondition: .ifNoneExist)
        #expect(duplicates.code == "MULTIPLE_MATCHES")
        #expect(!duplicates.isTransient)
    }

    @Test func anAnswerThatIsNoOutcomeKeepsItsStatus() {
        let error = FHIRErrors.linkError(HTTPResponse(status: 409, body: Array("conflict".utf8)))
        #expect(error.code == "HTTP_409")
        #expect(error.remoteBody == "conflict")
        #expect(FHIRErrors.callError(HTTPResponse(status: 403, body: [])).kind == .unauthorized)
        #expect(FHIRErrors.callError(HTTPResponse(status: 410, body: [])).kind == .rejected)
    }

    @Test func aWrittenResourceIsReadFromTheBodyOrElseFromLocationAndETag() throws {
        let body = #"{"resourceType":"Patient","id":"p9","meta":{"versionId":"1","lastUpdated":"2026-11-26T07:26:25Z"}}"#
        let created = try FHIRClient.written(HTTPResponse(status: 201, body: Array(body.utf8)))
        #expect(created == WrittenResource(id: "p9", versionID: "1", lastUpdated: Timestamp.parse("2026-11-26T07:26:25Z"), created: true))
        let minimal = try FHIRClient.written(
            HTTPResponse(status: 200, headers: ["Location": "https://emr.example.org/fhir/Patient/p9/_history/4", "ETag": #"W/"4""#]))
        #expect(minimal == WrittenResource(id: "p9", versionID: "4", lastUpdated: nil, created: false))
        #expect(throws: RemoteCallError.self) { try FHIRClient.written(HTTPResponse(status: 201)) }
    }

    @Test func theTokenExpiresWhenTheServerSaid() throws {
        let now = Date(timeIntervalSince1970: 1_000)
        let token = try SMARTTokenIssuer.token(
            from: HTTPResponse(status: 200, body: Array(#"{"access_token":"abc","token_type":"bearer","expires_in":300}"#.utf8)), requestedAt: now,
            scope: "system/Patient.rs")
        #expect(token.expiresAt == Date(timeIntervalSince1970: 1_300))
    }

    @Test func aTokenThatGrantsLessThanAskedIsRefusedNamingTheMissingScopes() throws {
        let body = #"{"access_token":"abc","token_type":"bearer","expires_in":300,"scope":"system/Patient.rs system/Patient.c"}"#
        let refused = #expect(throws: RemoteCallError.self) {
            try SMARTTokenIssuer.token(
                from: HTTPResponse(status: 200, body: Array(body.utf8)), requestedAt: Date(),
                scope: "system/Patient.rs system/Patient.cu system/ServiceRequest.c")
        }
        #expect(refused?.kind == .unauthorized)
        #expect(refused?.error.code == "SCOPE_REFUSED")
        #expect(refused?.error.message.hasPrefix("the EMR did not grant system/Patient.cu system/ServiceRequest.c ") == true)
    }

    @Test func theTokenEndpointsDateIsReadAsHTTPTime() {
        let response = HTTPResponse(status: 400, headers: ["Date": "Tue, 01 Dec 2026 14:58:11 GMT"])
        #expect(SMARTTokenIssuer.serverTime(response) == Timestamp.parse("2026-12-01T14:58:11Z"))
        #expect(SMARTTokenIssuer.serverTime(HTTPResponse(status: 400)) == nil)
    }
}

/// A search entry whose `fullUrl` names another resource than the one it holds is staged under
/// its `fullUrl`'s id (or a hash), never under the id its body claims.
struct EntryIdentityTests {
    static func page(_ entries: [(fullUrl: String, resource: String)]) throws -> SourcePage {
        let body = #"{"resourceType":"Bundle","type":"searchset","entry":["#
            + entries.map { #"{"fullUrl":"\#($0.fullUrl)","resource":\#($0.resource),"search":{"mode":"match"}}"# }.joined(separator: ",") + "]}"
        return try BundlePage.records(in: Array(body.utf8), type: "Patient")
    }

    @Test func anEntryWhoseBodyClaimsAnotherIdIsStagedUnderItsFullUrl() throws {
        let page = try Self.page([
            ("https://emr.example.org/fhir/Patient/1003", #"{"resourceType":"Patient","id":"1003"}"#),
            ("https://emr.example.org/fhir/Patient/hx-idmismatch", #"{"resourceType":"Patient","id":"1004"}"#),
            ("https://emr.example.org/fhir/Patient/1005/_history/2", #"{"resourceType":"Patient","id":"1005"}"#),
            ("https://emr.example.org/fhir/Observation/1006", #"{"resourceType":"Patient","id":"1006"}"#),
            ("https://emr.example.org/fhir/Patient/..%2F1007", #"{"resourceType":"Patient","id":"1007"}"#),
            ("urn:uuid:5a1c", #"{"resourceType":"Patient","id":"1008"}"#),
        ])
        #expect(page.records.map(\.sourceID).prefix(3) == ["1003", "hx-idmismatch", "1005"])
        #expect(page.records[3].sourceID.hasPrefix("mismatch-"), "another type's fullUrl: staged under a hash, not 1006")
        #expect(page.records[4].sourceID.hasPrefix("mismatch-"), "a fullUrl id that is no FHIR id: staged under a hash")
        #expect(page.records[5].sourceID == "1008", "a urn:uuid fullUrl names no RESTful identity")
    }
}
