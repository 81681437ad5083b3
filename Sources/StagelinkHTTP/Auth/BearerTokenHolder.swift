import Foundation
import Logging
import StagelinkEngine

/// An access token and what came with it (an instance URL, a user id), held in memory only.
///
/// For example:
///
/// ```swift
/// struct Token: BearerCredential {
///     var accessToken: Secret
///     var expiresAt: Date?
/// }
/// ```
public protocol BearerCredential: Sendable {
    var accessToken: Secret { get }
    /// When the token stops working, when the server said; nil renews only on a 401.
    var expiresAt: Date? { get }
}

/// Holds one service's bearer token: asks for one when there is none, renews it shortly before
/// it expires, and renews it once when the service refuses it, however many calls notice at once.
///
/// The token lives in this actor's memory and nowhere else: never in the store, a file or a log.
///
/// For example:
///
/// ```swift
/// let tokens = BearerTokenHolder(renewalMargin: .seconds(30)) { () throws(RemoteCallError) in
///     try await issuer.requestToken()
/// }
/// let credential = try await tokens.credential()
/// ```
public actor BearerTokenHolder<Credential: BearerCredential> {
    public typealias Issue = @Sendable () async throws(RemoteCallError) -> Credential

    private let issue: Issue
    private let renewalMargin: Duration
    private var current: Credential?
    private var pending: Task<Credential, any Error>?

    public init(renewalMargin: Duration = .seconds(30), issue: @escaping Issue) {
        self.issue = issue
        self.renewalMargin = renewalMargin
    }

    /// The token to use now: the held one, or a new one when there is none or it expires within
    /// the renewal margin.
    public func credential(now: Date = Date()) async throws(RemoteCallError) -> Credential {
        if let current, !expiresSoon(current, now: now) { return current }
        return try await renew(replacing: current)
    }

    /// A new token, unless another caller already replaced `stale` (then that one is returned).
    public func renew(replacing stale: Credential?) async throws(RemoteCallError) -> Credential {
        if let current, current.accessToken != stale?.accessToken { return current }
        let task: Task<Credential, any Error>
        if let pending {
            task = pending
        } else {
            let issue = self.issue
            task = Task { () async throws -> Credential in try await issue() }
            pending = task
        }
        do {
            let credential = try await task.value
            if pending == task {
                current = credential
                pending = nil
            }
            return credential
        } catch {
            if pending == task { pending = nil }
            throw error as? RemoteCallError ?? RemoteCallError(.unauthorized, LinkError(.tokenRequestFailed, message: "the token request failed"))
        }
    }

    /// Forgets the held token, so that the next call asks for a new one.
    public func discard() {
        current = nil
    }

    private func expiresSoon(_ credential: Credential, now: Date) -> Bool {
        guard let expiresAt = credential.expiresAt else { return false }
        let margin = Double(RetryPolicy.nanoseconds(renewalMargin)) / 1e9
        return expiresAt.timeIntervalSince(now) <= margin
    }
}
