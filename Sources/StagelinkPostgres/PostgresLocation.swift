import Foundation

/// Where a PostgreSQL store is and how to reach it: `store: postgres://user@host:5432/db?sslmode=verify-full`.
///
/// The one place a store URL is read. TLS is required and the server's certificate verified
/// against the system's trust store (or `sslrootcert`) and its host name, as libpq's
/// `sslmode=verify-full` does (the default); only a loopback host (127.0.0.0/8, ::1, localhost) may
/// go without TLS (`sslmode=disable`, its default), for a server on the same machine. The password is never in the file
/// itself: it comes from `${ENV}` in the URL or from `store.passwordFile`, and no description of a
/// location or of its errors ever shows it.
///
/// For example:
///
/// ```swift
/// let location = try PostgresLocation(parsing: "postgres://stagelink@db.example.org:5432/stagelink?sslmode=verify-full")
/// location.tls  // .verifyFull(rootCertificate: nil)
/// ```
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is protected (libpq's `sslmode` names).
    public enum TLSMode: Sendable, Hashable {
        /// TLS with the server's certificate chain and host name verified.
        case verifyFull(rootCertificate: String?)
        /// No TLS: loopback hosts only.
        case disable
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The PostgreSQL schema the store's tables live in (`?schema=NAME`; `public` by default): one
    /// database may hold several stores, such as a demo's beside a real one.
    public var schema = "public"
    public var tls: TLSMode

    /// Whether `host` is this machine: only such a host may go without TLS.
    public var isLoopback: Bool { Self.isLoopback(host) }

    /// Whether `text` names a PostgreSQL store rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        let lowered = text.lowercased()
        return lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://")
    }

    /// Reads a `postgres://` (or `postgresql://`) URL.
    ///
    /// - Parameter passwordFile: a file whose first line is the password (a URL that also holds one is refused).
    public init(parsing text: String, passwordFile: String? = nil) throws(PostgresLocationError) {
        guard Self.isURL(text) else { throw .malformed("it does not start with postgres:// or postgresql://") }
        guard let components = URLComponents(string: text) else {
            throw .malformed("it is not a URL (characters such as @ : / ? # in a user name or password must be percent-encoded)")
        }
        guard let host = components.host, !host.isEmpty else { throw .malformed("it names no host (postgres://user@HOST:5432/database)") }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard let user = components.user, !user.isEmpty else { throw .malformed("it names no user (postgres://USER@host:5432/database)") }
        self.user = user
        port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw .malformed("port \(port) is out of range (1 to 65535)") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else { throw .malformed("it names no database (postgres://user@host:5432/DATABASE)") }
        database = path
        guard components.fragment == nil else { throw .malformed("it has a #fragment, which a store URL never has") }
        // A loopback host needs no TLS (nothing leaves the machine); any other host gets verified TLS.
        var sslmode = Self.isLoopback(self.host) ? "disable" : "verify-full"
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode": sslmode = item.value ?? ""
            case "sslrootcert": rootCertificate = item.value
            case "schema":
                // The name goes into SQL as an identifier (CREATE SCHEMA, search_path): only a plain one.
                guard let name = item.value, Self.isSchemaName(name) else {
                    throw .malformed("schema \"\(item.value ?? "")\" is not a plain schema name (lower-case letters, digits and _, at most 63, not starting with a digit)")
                }
                schema = name
            default:
                throw .malformed("unknown parameter \"\(item.name)\" (accepted: sslmode, sslrootcert, schema)")
            }
        }
        switch sslmode {
        case "verify-full":
            tls = .verifyFull(rootCertificate: rootCertificate)
        case "disable":
            guard Self.isLoopback(self.host) else {
                throw .unverifiedTLS(host: self.host, sslmode: sslmode)
            }
            tls = .disable
        case "allow", "prefer", "require", "verify-ca":
            // Each of these lets a connection through to a server whose name is not checked
            // (`allow` and `prefer` even without TLS): patient data must not take that risk. libpq's
            // own documentation: only verify-full also checks "that the server host name matches its
            // certificate", and is "recommended in most security-sensitive environments"
            // (https://www.postgresql.org/docs/current/libpq-ssl.html, 34.19.1).
            throw .unverifiedTLS(host: self.host, sslmode: sslmode)
        default:
            throw .malformed("unknown sslmode \"\(sslmode)\" (verify-full, or disable on a loopback host)")
        }
        password = components.password
        if let passwordFile {
            guard password == nil else {
                throw .malformed("it holds a password and store.passwordFile names one too: keep one of them")
            }
            password = try Self.readPassword(passwordFile)
        }
    }

    /// The URL without its password: what logs, errors and `stagelink check` show.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let mode = switch tls {
        case .verifyFull: "verify-full"
        case .disable: "disable"
        }
        return "postgres://\(user)@\(shownHost):\(port)/\(database)?sslmode=\(mode)" + (schema == "public" ? "" : "&schema=\(schema)")
    }

    /// Whether `name` is a schema name the store accepts: lower-case letters, digits and `_`, at
    /// most 63 characters (PostgreSQL's identifier limit), not starting with a digit.
    public static func isSchemaName(_ name: String) -> Bool {
        name.range(of: #"^[a-z_][a-z0-9_]{0,62}$"#, options: .regularExpression) != nil
    }

    static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" { return true }
        let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { part in UInt8(part) != nil }
    }

    private static func readPassword(_ file: String) throws(PostgresLocationError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw .passwordFile(file, "cannot be read (\(error.localizedDescription))")
        }
        guard let line = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init), !line.isEmpty else {
            throw .passwordFile(file, "is empty: its first line is the password")
        }
        return line.hasSuffix("\r") ? String(line.dropLast()) : line
    }
}

/// A `store:` URL that cannot be used; never shows the password.
public enum PostgresLocationError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)
    /// A mode that does not verify the server, or no TLS, towards a host that is not loopback.
    case unverifiedTLS(host: String, sslmode: String)
    case passwordFile(String, String)

    public var description: String {
        switch self {
        case .malformed(let reason):
            "not a PostgreSQL store URL: \(reason); expected postgres://user@host:5432/database?sslmode=verify-full"
        case .unverifiedTLS(let host, let sslmode):
            "sslmode=\(sslmode) towards \(host) does not verify the server: a store on another host is reached with sslmode=verify-full "
                + "(TLS, certificate and host name checked; sslrootcert=FILE for a private CA); only a loopback host may use sslmode=disable"
        case .passwordFile(let file, let problem): "the password file \(file) \(problem)"
        }
    }
}
