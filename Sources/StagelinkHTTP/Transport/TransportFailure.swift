import Foundation
import StagelinkEngine

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Why a request got no complete answer, classified on the `URLError` codes that
/// FoundationNetworking really produces on Linux.
///
/// On Linux many failures arrive as code -1 carrying libcurl's own text ("transfer closed with
/// 120 bytes remaining to read"), not as the codes Apple platforms use; the classification reads
/// both. The description is fixed text per kind: libcurl's text is used to classify, never
/// repeated, since it can name hosts and files.
struct TransportFailure: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: String, Sendable, Hashable {
        /// No connection could be made (refused, unknown host): the request never left.
        case cannotConnect
        /// Nothing moved for the idle timeout; the server may have acted.
        case timedOut
        /// The whole-request deadline passed; the server may have acted.
        case deadlineExceeded
        /// The connection closed before the answer was complete; the server may have acted.
        case connectionLost
        /// TLS failed (certificate not trusted, handshake refused): retrying cannot help.
        case insecureConnection
        /// The caller's task was cancelled.
        case cancelled
        /// Anything else (a URL libcurl refuses): retrying cannot help.
        case other
    }

    var kind: Kind
    /// The `URLError` code, for the log and the support person.
    var code: Int

    /// Whether the request surely never reached the server, so that any method may be sent again.
    var surelyNotSent: Bool { kind == .cannotConnect }

    /// Whether sending again can help at all.
    var isRetryable: Bool {
        switch kind {
        case .cannotConnect, .timedOut, .deadlineExceeded, .connectionLost: true
        case .insecureConnection, .cancelled, .other: false
        }
    }

    var description: String {
        switch kind {
        case .cannotConnect: "could not connect to the server (URLError \(code))"
        case .timedOut: "the server sent nothing for the idle timeout (URLError \(code))"
        case .deadlineExceeded: "the whole-request deadline passed before the answer was complete"
        case .connectionLost: "the connection closed before the answer was complete (URLError \(code))"
        case .insecureConnection: "the TLS connection failed; the certificate is not trusted (URLError \(code))"
        case .cancelled: "the call was cancelled"
        case .other: "the request failed (URLError \(code))"
        }
    }

    /// The code of the `LinkError` attached to the rows when the call finally fails.
    var linkErrorCode: ErrorCode {
        switch kind {
        case .timedOut, .deadlineExceeded: .requestTimeout
        case .cancelled: .cancelled
        default: .connectionFailed
        }
    }

    static let deadline = TransportFailure(kind: .deadlineExceeded, code: URLError.timedOut.rawValue)
    static let cancellation = TransportFailure(kind: .cancelled, code: URLError.cancelled.rawValue)

    init(kind: Kind, code: Int) {
        self.kind = kind
        self.code = code
    }

    /// Classifies an error from a URLSession data task.
    init(classifying error: any Error) {
        let nsError = error as NSError
        guard nsError.domain == NSURLErrorDomain else {
            self.init(kind: .other, code: nsError.code)
            return
        }
        let code = nsError.code
        switch URLError.Code(rawValue: code) {
        case .cancelled:
            self.init(kind: .cancelled, code: code)
        case .timedOut:
            self.init(kind: .timedOut, code: code)
        case .cannotFindHost, .cannotConnectToHost, .dnsLookupFailed, .notConnectedToInternet:
            self.init(kind: .cannotConnect, code: code)
        case .networkConnectionLost, .badServerResponse, .cannotParseResponse, .zeroByteResource,
            .cannotDecodeRawData, .cannotDecodeContentData:
            self.init(kind: .connectionLost, code: code)
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
            .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
            .clientCertificateRequired, .appTransportSecurityRequiresSecureConnection:
            self.init(kind: .insecureConnection, code: code)
        default:
            self.init(kind: Self.kind(ofLibcurlText: nsError.localizedDescription), code: code)
        }
    }

    /// libcurl's error texts behind code -1 (CURLE_RECV_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING,
    /// CURLE_COULDNT_CONNECT, CURLE_SSL_*).
    static func kind(ofLibcurlText text: String) -> Kind {
        let text = text.lowercased()
        if text.contains("failed to connect") || text.contains("couldn't connect") || text.contains("could not resolve")
            || text.contains("connection refused")
        {
            return .cannotConnect
        }
        if text.contains("ssl") || text.contains("certificate") || text.contains("tls") { return .insecureConnection }
        if text.contains("timed out") || text.contains("timeout") { return .timedOut }
        if text.contains("transfer closed") || text.contains("recv failure") || text.contains("empty reply")
            || text.contains("connection reset") || text.contains("send failure") || text.contains("partial file")
            || text.contains("connection died") || text.contains("broken pipe")
        {
            return .connectionLost
        }
        return .other
    }
}
