import Foundation
import PostgresNIO

/// An error of a PostgreSQL server or of the connection to it, told as a person can act on it: the
/// one place postgres-nio's errors are read (its own description is deliberately generic: "PSQLError
/// – Generic description to prevent accidental leakage of sensitive data").
///
/// A server's error shows its SQLSTATE, message, detail and hint (PostgreSQL's error fields,
/// https://www.postgresql.org/docs/current/protocol-error-fields.html) and, for the codes an
/// operator meets (appendix A, https://www.postgresql.org/docs/current/errcodes-appendix.html),
/// what to check. A connection's error shows its cause. Never the password, nor the statement or
/// its values: the store's location is shown by its description, which has no password.
///
/// For example:
///
/// ```swift
/// do { _ = try await PostgresStore(location: location) } catch { print(error) }
/// // the PostgreSQL server at postgres://stagelink@127.0.0.1:5432/sync?sslmode=disable refused:
/// // password authentication failed for user "stagelink" (SQLSTATE 28P01) — check the user and the password …
/// ```
public struct PostgresServerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server's SQLSTATE (`28P01`); nil when the connection failed before the server answered.
    public let sqlState: String?
    public let description: String

    /// `error` told plainly when it is postgres-nio's (``PostgresServerError``); any other error as it is.
    ///
    /// - Parameter location: where the store is, named in the message (without its password).
    public static func wrapping(_ error: any Error, location: PostgresLocation?) -> any Error {
        explaining(error, location: location) ?? error
    }

    /// `error` told plainly, or nil when it is not postgres-nio's.
    public static func explaining(_ error: any Error, location: PostgresLocation? = nil) -> PostgresServerError? {
        if let error = error as? PostgresServerError { return error }
        let place = location.map { " at \($0)" } ?? ""
        // The pool's own error (its module is not a product postgres-nio exports): the pool gave
        // up making connections (its circuit breaker, after a minute of failures), or was closed.
        if String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError") {
            let what = String(reflecting: error).contains("connectionCreationCircuitBreakerTripped")
                ? "no connection could be made for a minute (is the server up and reachable?)" : "the store's connections were closed or the request was cancelled"
            return PostgresServerError(sqlState: nil, description: "the PostgreSQL server\(place): \(what)")
        }
        guard let error = error as? PSQLError else { return nil }
        if error.code == .server, let info = error.serverInfo {
            let state = info[.sqlState]
            var text = "the PostgreSQL server\(place) refused: \(info[.message] ?? "an error without a message")"
            if let state { text += " (SQLSTATE \(state))" }
            if let detail = info[.detail] { text += "; detail: \(detail)" }
            if let hint = info[.hint] { text += "; hint: \(hint)" }
            if let advice = state.flatMap(advice(for:)) { text += " — \(advice)" }
            return PostgresServerError(sqlState: state, description: text)
        }
        let cause = error.underlying.map { ": \(String(describing: $0))" } ?? ""
        let what = switch error.code {
        case .connectionError:
            "cannot connect\(cause) — is the server running and accepting TCP connections on that host and port (listen_addresses, pg_hba.conf, a firewall)?"
        case .sslUnsupported:
            "the server does not accept TLS, which sslmode=verify-full requires — turn on ssl in postgresql.conf (a loopback host may use sslmode=disable)"
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            "TLS could not be set up\(cause) — check the server's certificate, its name and sslrootcert"
        case .authMechanismRequiresPassword:
            "the server asks for a password and none was given — put it in the URL from the environment (postgres://user:${PGPASSWORD}@host/db) or name store.passwordFile"
        case .unsupportedAuthMechanism, .saslError:
            "the server's authentication method is not supported\(cause) — use scram-sha-256 or md5 for this user in pg_hba.conf"
        case .serverClosedConnection, .uncleanShutdown:
            "the server closed the connection\(cause) — it may have restarted or ended the session (idle timeout, pg_terminate_backend)"
        case .clientClosedConnection, .poolClosed:
            "the store's connections were already closed"
        case .queryCancelled:
            "the statement was cancelled"
        default:
            "failed (\(error.code))\(cause)"
        }
        return PostgresServerError(sqlState: nil, description: "the PostgreSQL server\(place): \(what)")
    }

    /// A statement was about to be sent on a connection the server had already closed (it restarted,
    /// or ended the session: `idle_in_transaction_session_timeout`, `pg_terminate_backend`); nothing
    /// was sent, and the transaction it belonged to ended with the session.
    static let closedConnection = PostgresServerError(
        sqlState: nil,
        description: "the PostgreSQL server closed the connection before the statement was sent — it may have restarted or ended the session "
            + "(idle_in_transaction_session_timeout, pg_terminate_backend); nothing of the transaction was kept")

    /// The store was closed (``PostgresStore/close()``) and then used.
    static let storeClosed = PostgresServerError(sqlState: nil, description: "the PostgreSQL store was closed: its connections are gone")

    /// What to check for the SQLSTATEs an operator meets (PostgreSQL's appendix A names them).
    static func advice(for state: String) -> String? {
        switch state {
        case "28P01", "28000":
            "check the user and the password (from ${ENV} in the URL or store.passwordFile) and pg_hba.conf"
        case "3D000":
            "the database does not exist: check the URL's database, or create it (createdb -O USER NAME)"
        case "3F000":
            "the schema does not exist: check the URL's ?schema="
        case "42501":
            "the user lacks a privilege: grant it CONNECT and CREATE on the database, or USAGE and CREATE on the store's schema (docs/scale.md)"
        case "40001", "40P01":
            "another transaction wrote the same rows at the same time; nothing of this one was kept, and it may be run again"
        case "53300":
            "the server has no connection slot left: raise max_connections or lower the number of Stagelink processes"
        case "57P01", "57P02", "57P03":
            "the server is shutting down or starting up: try again once it is up"
        case "25P03":
            "the server ended a transaction that waited for this process longer than idle_in_transaction_session_timeout (the process was paused or cut off); nothing of it was kept"
        case "25006":
            "the server is a read-only standby: point the store at the primary"
        default:
            state.hasPrefix("08") ? "the connection failed: check that the server is reachable" : nil
        }
    }
}
