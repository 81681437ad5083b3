import Foundation

/// Checks and builds the URLs the clients call: https only (plain http on loopback for the
/// sandbox), links followed on their own origin only, segments and query values percent-encoded.
///
/// For example:
///
/// ```swift
/// let base = try EndpointURL.validated(URL(string: "https://emr.example.org/fhir")!, setting: "fhir.base_url")
/// let read = EndpointURL.appending(["Patient", id], to: base)
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

    public static func isLoopback(_ url: URL) -> Bool {
        guard let host = url.host()?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
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

    /// `base` with `components` appended as path segments, each percent-encoded.
    public static func appending(_ components: [String], to base: URL) -> URL {
        components.reduce(base) { url, component in url.appending(path: component, directoryHint: .notDirectory) }
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
}
