/// Why a sandbox operation failed. Its description names files, keys and settings, never record data.
///
/// For example:
///
/// ```swift
/// do { try sandbox.faults.inject(rule) } catch let error as SandboxError { logger.error("\(error)") }
/// ```
public struct SandboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable {
        case cannotWrite
        case invalidKey
        case faultNotApplicable
        case invalidSetting
        case serverDidNotStart
        case editRefused
    }

    /// The kind of failure.
    public let code: Code
    /// What failed, in words safe for a log line.
    public let detail: String

    public var description: String { "\(code.rawValue): \(detail)" }

    static func cannotWrite(_ fileName: String) -> SandboxError {
        SandboxError(code: .cannotWrite, detail: "cannot write \(fileName)")
    }

    static func invalidKey(_ owner: String) -> SandboxError {
        SandboxError(code: .invalidKey, detail: "the public key of \(owner) is not a PEM key the sandbox can read")
    }

    static func faultNotApplicable(_ kind: FaultKind, _ endpoint: SandboxEndpoint) -> SandboxError {
        SandboxError(code: .faultNotApplicable, detail: "\(kind.rawValue) cannot happen on \(endpoint.rawValue)")
    }

    static func editRefused(_ detail: String) -> SandboxError {
        SandboxError(code: .editRefused, detail: detail)
    }

    static func invalidSetting(_ detail: String) -> SandboxError {
        SandboxError(code: .invalidSetting, detail: detail)
    }

    static func serverDidNotStart(_ which: String) -> SandboxError {
        SandboxError(code: .serverDidNotStart, detail: "the \(which) server did not start")
    }
}
