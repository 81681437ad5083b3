import Foundation
import Testing

@testable import StagelinkHTTP

struct EndpointURLTests {
    @Test func plainHTTPIsAllowedOnLoopbackOnly() throws {
        #expect(throws: Never.self) { try EndpointURL.validated(URL(string: "http://127.0.0.1:8080/fhir")!, setting: "fhir.base_url") }
        #expect(throws: Never.self) { try EndpointURL.validated(URL(string: "https://emr.example.org/fhir")!, setting: "fhir.base_url") }
        #expect(throws: ClientSetupError.self) { try EndpointURL.validated(URL(string: "http://emr.example.org/fhir")!, setting: "fhir.base_url") }
        #expect(throws: ClientSetupError.self) { try EndpointURL.validated(URL(string: "ftp://127.0.0.1/x")!, setting: "fhir.base_url") }
    }

    @Test func sameOriginComparesSchemeHostAndEffectivePort() {
        let base = URL(string: "https://emr.example.org/fhir")!
        #expect(EndpointURL.isSameOrigin(URL(string: "https://EMR.example.org:443/fhir/Patient?page=2")!, as: base))
        #expect(!EndpointURL.isSameOrigin(URL(string: "https://evil.example.org/fhir/Patient")!, as: base))
        #expect(!EndpointURL.isSameOrigin(URL(string: "http://emr.example.org/fhir/Patient")!, as: base))
        #expect(!EndpointURL.isSameOrigin(URL(string: "https://emr.example.org:8443/fhir")!, as: base))
    }

    @Test func formBodiesEncodeEverythingButUnreservedCharacters() {
        let body = EndpointURL.formBody([("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("scope", "system/*.read a+b")])
        #expect(String(decoding: body, as: UTF8.self) == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&scope=system%2F%2A.read%20a%2Bb")
    }

    @Test func pathSegmentsAreAppendedEncoded() {
        let url = EndpointURL.appending(["Patient", "a b"], to: URL(string: "https://emr.example.org/fhir")!)
        #expect(url.absoluteString == "https://emr.example.org/fhir/Patient/a%20b")
    }
}
