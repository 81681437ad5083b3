import Foundation
import StagelinkEngine
import StagelinkHTTP
import Testing

@testable import SalesforceClient

struct SalesforceWireTests {
    @Test func limitInfoIsReadFromTheHeader() {
        #expect(SalesforceLimits.usage(inHeader: "api-usage=18/5000") == APIUsage(used: 18, limit: 5000))
        #expect(SalesforceLimits.usage(inHeader: "per-app-api-usage=2/250(appName=x), api-usage=4100/5000") == APIUsage(used: 4100, limit: 5000))
        #expect(SalesforceLimits.usage(inHeader: "api-usage=abc") == nil)
        #expect(SalesforceLimits.usage(inHeader: nil) == nil)
    }

    @Test func callsStopOnceTheConfiguredShareIsUsed() throws {
        let meter = APIMeter()
        let limits = SalesforceLimits(meter: meter, share: 0.8)
        let request = HTTPRequest(.get, url: URL(string: "https://x.my.salesforce.com")!, retry: .idempotent)
        meter.recordCall(usage: APIUsage(used: 3999, limit: 5000))
        #expect(throws: Never.self) { try limits.admit(request) }
        meter.recordCall(usage: APIUsage(used: 4000, limit: 5000))
        let error = #expect(throws: RemoteCallError.self) { try limits.admit(request) }
        #expect(error?.kind == .limitReached)
        #expect(error?.stopsJob == true)
        #expect(error?.error.message.contains("4000 of its 5000") == true)
    }

    @Test func queryPagesKeepEachRecordsExactBytes() throws {
        let body = Array(
            #"""
            {"totalSize":3,"done":false,"nextRecordsUrl":"/services/data/v60.0/query/01gD-2000","records":[
              {"attributes":{"type":"Contact","url":"/services/data/v60.0/sobjects/Contact/003A"},"Id":"003A","SystemModstamp":"2026-11-26T07:26:25.000+0000","LastName":"O'Brien",  "Score__c":12.50},
              {"attributes":{"type":"Contact","url":"/services/data/v60.0/sobjects/Contact/003B"},"SystemModstamp":"2026-11-26T07:26:26.000+0000"},
              {"Id":null}
            ]}
            """#.utf8)
        let page = try QueryPage.records(in: body, object: "Contact")
        #expect(page.records.count == 3)
        #expect(page.total == 3)
        #expect(page.next == PageCursor("/services/data/v60.0/query/01gD-2000"))
        let first = page.records[0]
        #expect(first.sourceID == "003A")
        #expect(first.system == .salesforce)
        #expect(first.version == nil)
        #expect(first.lastUpdated == Timestamp.parse("2026-11-26T07:26:25Z"))
        #expect(String(decoding: first.payload, as: UTF8.self).hasSuffix(#""LastName":"O'Brien",  "Score__c":12.50}"#))
        #expect(page.records[1].sourceID == "003B")
        #expect(page.records[2].sourceID.hasPrefix("unidentified-"))
        #expect(page.records[2].lastUpdated == nil)
    }

    @Test func theLastPageHasNoCursor() throws {
        let page = try QueryPage.records(in: Array(#"{"totalSize":0,"done":true,"records":[]}"#.utf8), object: "Contact")
        #expect(page.records.isEmpty && page.next == nil)
    }

    @Test func aTruncatedPageIsMalformed() {
        let error = #expect(throws: RemoteCallError.self) {
            try QueryPage.records(in: Array(#"{"totalSize":1,"done":true,"records":[{"Id":"003"#.utf8), object: "Contact")
        }
        #expect(error?.kind == .malformedResponse)
    }

    @Test func dottedFieldsAreSentAsNestedReferences() {
        let record = TargetRecord(fields: [
            MappedField(name: "EMR_Assessment_Id__c", value: .text("qr-1")),
            MappedField(name: "Contact__r.EMR_Patient_Id__c", value: .text("p-1")),
            MappedField(name: "Score__c", value: .number("12")),
            MappedField(name: "Severity__c", value: .null),
        ])
        let body = String(decoding: CollectionRequest.upsertBody(object: "Assessment__c", records: [record]), as: UTF8.self)
        #expect(
            body
                == #"{"allOrNone":false,"records":[{"attributes":{"type":"Assessment__c"},"EMR_Assessment_Id__c":"qr-1","#
                + #""Contact__r":{"EMR_Patient_Id__c":"p-1"},"Score__c":12,"Severity__c":null}]}"#)
    }

    @Test func updatesCarryTheRecordId() {
        let body = CollectionRequest.updateBody(object: "Contact", records: [TargetRecordUpdate(id: "003A", fields: [MappedField(name: "EMR_Patient_Id__c", value: .text("p-9"))])])
        #expect(String(decoding: body, as: UTF8.self) == #"{"allOrNone":false,"records":[{"attributes":{"type":"Contact"},"id":"003A","EMR_Patient_Id__c":"p-9"}]}"#)
    }

    @Test func collectionResultsMapBackInOrderWithCreatedKept() throws {
        let body = Array(
            #"""
            [{"id":"003A","success":true,"errors":[],"created":true},
             {"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}]},
             {"id":"003C","success":true,"errors":[],"created":false},
             {"success":false,"errors":[{"statusCode":"STRING_TOO_LONG","message":"Last Name: data value too large","fields":["LastName"]},{"statusCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid email address","fields":["Email","LastName"]}]}]
            """#.utf8)
        let results = try CollectionRequest.results(in: body, expected: 4)
        #expect(results[0] == .success(id: "003A", created: true))
        #expect(results[2] == .success(id: "003C", created: false))
        guard case .failure(let locked) = results[1], case .failure(let invalid) = results[3] else {
            Issue.record("expected failures")
            return
        }
        #expect(locked.code == "UNABLE_TO_LOCK_ROW")
        #expect(locked.isTransient)
        #expect(locked.remoteBody?.hasPrefix(#"{"success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW""#) == true)
        #expect(invalid.code == "STRING_TOO_LONG")
        #expect(invalid.fields == ["LastName", "Email"])
        #expect(invalid.message == "Last Name: data value too large; Email: invalid email address")
    }

    @Test func aResultCountThatDoesNotMatchIsMalformed() {
        let error = #expect(throws: RemoteCallError.self) {
            try CollectionRequest.results(in: Array(#"[{"id":"003A","success":true}]"#.utf8), expected: 2)
        }
        #expect(error?.kind == .malformedResponse)
    }

    @Test(arguments: [
        (403, #"[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"TotalRequests Limit exceeded."}]"#, RemoteCallError.Kind.limitReached, "REQUEST_LIMIT_EXCEEDED"),
        (401, #"[{"errorCode":"INVALID_SESSION_ID","message":"Session expired or invalid"}]"#, .unauthorized, "INVALID_SESSION_ID"),
        (400, #"[{"errorCode":"INVALID_FIELD","message":"No such column 'Foo__c' on sobject of type Contact","fields":["Foo__c"]}]"#, .rejected, "INVALID_FIELD"),
        (404, "<html>not found</html>", .rejected, "HTTP_404"),
    ])
    func callErrorsKeepCodeKindAndBody(status: Int, body: String, kind: RemoteCallError.Kind, code: String) {
        let error = SalesforceErrors.callError(HTTPResponse(status: status, body: Array(body.utf8)))
        #expect(error.kind == kind)
        #expect(error.error.code == code)
        #expect(error.error.remoteBody == body)
    }

    @Test func onlyAnInvalidSessionIsWorthRenewing() {
        #expect(SalesforceErrors.isExpiredSession(HTTPResponse(status: 401, body: Array(#"[{"errorCode":"INVALID_SESSION_ID"}]"#.utf8))))
        #expect(!SalesforceErrors.isExpiredSession(HTTPResponse(status: 401, body: Array(#"[{"errorCode":"INVALID_AUTH_HEADER"}]"#.utf8))))
        #expect(!SalesforceErrors.isExpiredSession(HTTPResponse(status: 403, body: [])))
    }

    @Test func theTokenResponseGivesTheInstanceAndTheIntegrationUser() throws {
        let body = #"{"access_token":"00D!AQ","instance_url":"https://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00Dxx0000001gPL/005xx000001SwiU","token_type":"Bearer"}"#
        let session = try SalesforceTokenIssuer.session(from: HTTPResponse(status: 200, body: Array(body.utf8)))
        #expect(session.userID == "005xx000001SwiU")
        #expect(session.instanceURL.absoluteString == "https://acme.my.salesforce.com")
        #expect(session.accessToken.reveal() == "00D!AQ")
    }

    @Test func aRefusedGrantIsUnauthorizedWithSalesforcesReason() {
        let body = #"{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}"#
        let error = #expect(throws: RemoteCallError.self) {
            try SalesforceTokenIssuer.session(from: HTTPResponse(status: 400, body: Array(body.utf8)))
        }
        #expect(error?.kind == .unauthorized)
        #expect(error?.error.code == "invalid_grant")
    }

    @Test func aPlainHTTPInstanceOffLoopbackIsRefused() {
        let body = #"{"access_token":"t","instance_url":"http://acme.my.salesforce.com","id":"https://login.salesforce.com/id/00D/005"}"#
        let error = #expect(throws: RemoteCallError.self) {
            try SalesforceTokenIssuer.session(from: HTTPResponse(status: 200, body: Array(body.utf8)))
        }
        #expect(error?.error.code == "INSECURE_INSTANCE_URL")
    }
}
