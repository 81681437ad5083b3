import Foundation
import Testing

@testable import StagelinkHTTP

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct TransportFailureTests {
    @Test(arguments: [
        (URLError.Code.cannotConnectToHost, TransportFailure.Kind.cannotConnect),
        (.cannotFindHost, .cannotConnect),
        (.timedOut, .timedOut),
        (.networkConnectionLost, .connectionLost),
        (.serverCertificateUntrusted, .insecureConnection),
        (.secureConnectionFailed, .insecureConnection),
        (.cancelled, .cancelled),
        (.badURL, .other),
    ])
    func classifiesURLErrorCodes(code: URLError.Code, kind: TransportFailure.Kind) {
        #expect(TransportFailure(classifying: URLError(code)).kind == kind)
    }

    @Test(arguments: [
        ("transfer closed with 120 bytes remaining to read", TransportFailure.Kind.connectionLost),
        ("Recv failure: Connection reset by peer", .connectionLost),
        ("Empty reply from server", .connectionLost),
        ("Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server", .cannotConnect),
        ("SSL certificate problem: unable to get local issuer certificate", .insecureConnection),
        ("Operation timed out after 1000 milliseconds", .timedOut),
        ("something new", .other),
    ])
    func classifiesLibcurlTextBehindCodeMinusOne(text: String, kind: TransportFailure.Kind) {
        let error = NSError(domain: NSURLErrorDomain, code: -1, userInfo: [NSLocalizedDescriptionKey: text])
        #expect(TransportFailure(classifying: error).kind == kind)
    }

    @Test func onlyAFailedConnectionIsSurelyNotSent() {
        #expect(TransportFailure(kind: .cannotConnect, code: -1004).surelyNotSent)
        #expect(!TransportFailure(kind: .connectionLost, code: -1).surelyNotSent)
        #expect(!TransportFailure(kind: .timedOut, code: -1001).surelyNotSent)
        #expect(!TransportFailure(kind: .insecureConnection, code: -1202).isRetryable)
    }

    @Test func descriptionsNeverRepeatLibcurlText() {
        let error = NSError(
            domain: NSURLErrorDomain, code: -1, userInfo: [NSLocalizedDescriptionKey: "Could not resolve host: secret.example.org"])
        #expect(!TransportFailure(classifying: error).description.contains("secret"))
    }
}
