import Foundation
import StagelinkEngine
import StagelinkTestSupport
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

    @Test func pathSegmentsAreAppendedEncoded() throws {
        let url = try EndpointURL.appending(["Patient", "a b"], to: URL(string: "https://emr.example.org/fhir")!)
        #expect(url.absoluteString == "https://emr.example.org/fhir/Patient/a%20b")
    }

    @Test(arguments: [
        "http://127.evil.example:8080/fhir", "http://127.0.0.1.nip.io/fhir", "http://0x7f.1/fhir", "http://0x7f000001/fhir", "http://127.1/fhir",
        "http://2130706433/fhir", "http://0177.0.0.1/fhir", "http://[::ffff:127.0.0.1]/fhir", "http://localhost.evil.example/fhir",
        "http://127.0.0.1%2Eevil.example/fhir", "http://evil.example/fhir?127.0.0.1", "http://[::2]/fhir", "http://10.0.0.1/fhir",
    ])
    func plainHTTPToAnythingThatIsNotALoopbackAddressIsRefused(_ text: String) throws {
        let url = try #require(URL(string: text))
        #expect(!EndpointURL.isLoopback(url))
        #expect(throws: ClientSetupError.insecureEndpoint("fhir.base_url")) { try EndpointURL.validated(url, setting: "fhir.base_url") }
    }

    @Test(arguments: ["http://127.0.0.1:8080/fhir", "http://127.255.3.4/fhir", "http://[::1]:9000/fhir", "http://[0:0:0:0:0:0:0:1]/fhir", "http://localhost:8080/fhir"])
    func plainHTTPToALoopbackAddressIsAllowed(_ text: String) throws {
        let url = try #require(URL(string: text))
        #expect(EndpointURL.isLoopback(url))
        #expect(try EndpointURL.validated(url, setting: "fhir.base_url") == url)
    }

    /// Every hostile identifier of the corpus stays inside its one segment, and decodes back to
    /// itself; `.`, `..` and the empty segment are refused, since they would navigate the path.
    @Test func everyHostileIdentifierStaysInsideItsOneSegment() throws {
        let identifiers = try HostileIdentifiers.all()
        #expect(identifiers.count >= 40)
        #expect(identifiers.contains("1011/../1015") && identifiers.contains("../../metadata"))
        let base = URL(string: "https://emr.example.org/fhir/r4")!
        for id in identifiers {
            if id.isEmpty || id == "." || id == ".." {
                #expect(throws: RemoteCallError.self) { try EndpointURL.appending(["Patient", id], to: base) }
                continue
            }
            let url = try EndpointURL.appending(["Patient", id, "_history", id], to: base)
            let segments = url.path(percentEncoded: true).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            #expect(segments.count == 7, "\(url.absoluteString)")
            #expect(segments.prefix(4) == ["", "fhir", "r4", "Patient"])
            #expect(segments[4].removingPercentEncoding == id && segments[5] == "_history" && segments[6].removingPercentEncoding == id, "\(url.absoluteString)")
            #expect(url.query == nil && url.fragment == nil && url.host() == "emr.example.org")
            #expect(segments[4].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._~%$".contains($0)) })
            #expect(segments[4] != "." && segments[4] != "..")
        }
    }

    @Test func theRefusalIsALastingInvalidIdentifier() {
        do {
            _ = try EndpointURL.appending(["Patient", ".."], to: URL(string: "https://emr.example.org/fhir")!)
            Issue.record("`..` was appended")
        } catch {
            #expect(error.error.code == "INVALID_IDENTIFIER")
            #expect(!error.error.isTransient && !error.stopsJob)
        }
    }
}
