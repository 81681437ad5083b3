import Foundation
import StagelinkEngine

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks and builds the URLs the clients call: https only (plain http on loopback for the
/// sandbox), links followed on their own origin only, segments and query values percent-encoded.
///
/// For example:
///
/// ```swift
/// let base = try EndpointURL.validated(URL(string: "https://emr.example.org/fhir")!, setting: "emr.baseURL")
/// let read = try EndpointURL.appending(["Patient", id], to: base)   // Patient/a%2Fb for "a/b"
/// EndpointURL.isSameOrigin(nextLink, as: base)   // false for another host: the link is not followed
/// ```
public enum EndpointURL {
    /// `url` if it is https, or http on a loopback address (the sandbox); throws otherwise, so that
    /// a token or a payload never crosses a network in clear text.
    public static func validated(_ url: URL, setting: String) throws(ClientSetupError) -> URL {
        guard let scheme = url.scheme?.lowercased(), url.host() != nil else {
            throw .invalidSetting(setting, "not an absolute URL")
        }
        if scheme == "https" || (scheme == "http" && isLoopback(url)) { return url }
        throw .insecureEndpoint(setting)
    }

    /// Whether `url`'s host is a loopback address: an IPv4 literal in 127.0.0.0/8, the IPv6
    /// literal `::1`, or the name `localhost` when every address it resolves to is one of those.
    ///
    /// Nothing else counts, however it looks: `127.evil.example` and `127.0.0.1.nip.io` are names
    /// anyone can point anywhere, `0x7f.1` and `127.1` are not the dotted-decimal form (RFC 3986
    /// § 3.2.2 `IPv4address`), and `::ffff:127.0.0.1` is an IPv4-mapped address, not `::1`.
    public static func isLoopback(_ url: URL) -> Bool {
        guard var host = url.host(percentEncoded: true)?.lowercased() else { return false }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { return resolvesOnlyToLoopback(host) }
        return isLoopbackLiteral(host)
    }

    /// Whether `host` is an IPv4 literal in 127.0.0.0/8 (four decimal parts, no leading zeros)
    /// or the IPv6 loopback literal.
    static func isLoopbackLiteral(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { $0.first == 127 } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } == ipv6Loopback }
        return false
    }

    private static let ipv6Loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]

    /// Whether `name` resolves, and only to loopback addresses (a hosts file or resolver that
    /// sends `localhost` elsewhere makes it count as any other name).
    static func resolvesOnlyToLoopback(_ name: String) -> Bool {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result else { return false }
        defer { freeaddrinfo(first) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let current = node {
            guard let address = current.pointee.ai_addr else { return false }
            switch current.pointee.ai_family {
            case AF_INET:
                let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var copy = pointer.pointee.sin_addr
                    return withUnsafeBytes(of: &copy) { Array($0) }
                }
                guard bytes.first == 127 else { return false }
            case AF_INET6:
                let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var copy = pointer.pointee.sin6_addr
                    return withUnsafeBytes(of: &copy) { Array($0) }
                }
                guard bytes == ipv6Loopback else { return false }
            default:
                return false
            }
            node = current.pointee.ai_next
        }
        return true
    }

    /// Whether `url` is on the same scheme, host and port as `base`: links a server hands back
    /// (next pages) are followed only there, so that the bearer token goes nowhere else.
    public static func isSameOrigin(_ url: URL, as base: URL) -> Bool {
        url.scheme?.lowercased() == base.scheme?.lowercased() && url.host()?.lowercased() == base.host()?.lowercased()
            && effectivePort(url) == effectivePort(base)
    }

    /// `scheme://host:port` of a URL, for messages (no path, no query: those may hold data).
    public static func origin(of url: URL) -> String {
        "\(url.scheme?.lowercased() ?? "?")://\(url.host()?.lowercased() ?? "?")\(effectivePort(url).map { ":\($0)" } ?? "")"
    }

    private static func effectivePort(_ url: URL) -> Int? {
        url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil)
    }

    /// `base` with `components` appended as path segments, each percent-encoded: every byte but
    /// the unreserved characters (RFC 3986 § 2.3) and `$` is encoded, so `/`, `?`, `#` and `%` in an
    /// id stay inside its one segment. `$` is a sub-delimiter that RFC 3986 § 3.3 allows in a segment
    /// and that never navigates; FHIR names its operations with it (`Group/[id]/$export`), and an
    /// encoded `%24` is not the same URI (§ 2.2), so servers would not find the operation. A segment that is empty, `.` or `..` is refused rather than encoded:
    /// `%2E%2E` is `..` to a server that decodes before it normalises (RFC 3986 § 6.2.2.2), and
    /// would navigate the path. The refusal is a lasting `INVALID_IDENTIFIER`: nothing is sent.
    public static func appending(_ components: [String], to base: URL) throws(RemoteCallError) -> URL {
        var path = base.path(percentEncoded: true)
        while path.hasSuffix("/") { path.removeLast() }
        for component in components {
            guard !component.isEmpty, component != ".", component != ".." else {
                throw RemoteCallError(
                    .rejected,
                    LinkError(
                        .invalidIdentifier,
                        message: "a URL path segment is empty, \".\" or \"..\" (it would navigate the path): nothing was sent"))
            }
            path += "/" + (component.addingPercentEncoding(withAllowedCharacters: pathSegment) ?? component)
        }
        guard var parts = URLComponents(url: base, resolvingAgainstBaseURL: true) else {
            throw RemoteCallError(.rejected, LinkError(.invalidIdentifier, message: "the base URL cannot take a path"))
        }
        parts.percentEncodedPath = path
        guard let url = parts.url else {
            throw RemoteCallError(.rejected, LinkError(.invalidIdentifier, message: "the URL could not be built: nothing was sent"))
        }
        return url
    }

    /// Text percent-encoded for a query value or a form field: only unreserved characters stay.
    public static func percentEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// `application/x-www-form-urlencoded` body of `fields`, in order.
    public static func formBody(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&").utf8)
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    private static let pathSegment = unreserved.union(CharacterSet(charactersIn: "$"))
}
