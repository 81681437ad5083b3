/// Why a client could not start: a key file that cannot be read, a key of the wrong kind, an
/// endpoint that is not allowed.
///
/// Descriptions name files and settings, never a key's or secret's content.
///
/// For example:
///
/// ```swift
/// do { _ = try await SalesforceClient(configuration: configuration, logger: logger) }
/// catch { print(error) }   // cannot read the key file /etc/stagelink/sf.pem: no such file
/// ```
public struct ClientSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    public static func unreadableFile(_ path: String, reason: String) -> ClientSetupError {
        ClientSetupError("cannot read the file \(path): \(reason)")
    }

    public static func invalidKey(_ path: String, algorithm: String) -> ClientSetupError {
        ClientSetupError("the file \(path) holds no private key usable for \(algorithm)")
    }

    public static func insecureEndpoint(_ setting: String) -> ClientSetupError {
        ClientSetupError("\(setting) must use https (plain http is allowed on loopback only)")
    }

    public static func invalidSetting(_ setting: String, _ reason: String) -> ClientSetupError {
        ClientSetupError("\(setting): \(reason)")
    }
}
