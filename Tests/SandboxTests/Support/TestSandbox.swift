import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import Sandbox

/// Fixtures shared by the sandbox tests: credentials made once, worlds with a known base URL, and a
/// small HTTP vocabulary over Hummingbird's in-process test client.
enum TestSandbox {
    static let credentials: SandboxCredentials = try! SandboxCredentials.generate()
    static let rsaCredentials: SandboxCredentials = try! SandboxCredentials.generate(
        fhirClientID: "rsa-client", fhirKey: .rs384)
    static let salesforceBase = "http://sandbox.test"
    static let fhirBase = "http://sandbox.test/fhir"

    static func configuration(patients: Int = 20, badShare: Double = 0, seed: UInt64 = 7) -> SandboxConfiguration {
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.fhirClients.append(rsaCredentials.fhirClient)
        configuration.patientCount = patients
        configuration.badShare = badShare
        configuration.seed = seed
        return configuration
    }

    static func world(_ configuration: SandboxConfiguration = configuration()) -> SandboxWorld {
        let world = SandboxWorld(configuration: configuration, logger: Logger(label: "test"))
        world.setBaseURLs(salesforce: salesforceBase, fhir: fhirBase)
        return world
    }

    /// Runs `body` against the Salesforce simulator of `world`, in process.
    static func salesforce<Value: Sendable>(
        _ world: SandboxWorld, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await Application(router: SalesforceRoutes.router(world: world)).test(.router, body)
    }

    /// Runs `body` against the FHIR simulator of `world`, in process.
    static func fhir<Value: Sendable>(
        _ world: SandboxWorld, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await Application(router: FHIRRoutes.router(world: world)).test(.router, body)
    }
}

/// A response as the tests read it.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var body: [UInt8]

    var json: WireJSON { (try? WireJSON.parse(body)) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        headers.first { $0.name.canonicalName == name.lowercased() }?.value
    }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method, _ uri: String, bearer: String? = nil, json: WireJSON? = nil,
        form: [(String, String)]? = nil, headers extra: [(String, String)] = []
    ) async throws -> Reply {
        var headers = HTTPFields()
        var body: ByteBuffer?
        if let bearer { headers[.authorization] = "Bearer \(bearer)" }
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: json.serialized())
        }
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(
                string: form.map { "\(FormEncoding.escape($0.0))=\(FormEncoding.escape($0.1))" }.joined(separator: "&"))
        }
        // An extra header replaces one of the same name (a patch's Content-Type over the JSON one).
        for (name, value) in extra { headers[HeaderField.Name(name)!] = value }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: Int(response.status.code), headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    /// A Salesforce session token through client credentials.
    func salesforceToken(_ credentials: SandboxCredentials = TestSandbox.credentials) async throws -> String {
        let reply = try await call(
            .post, "/services/oauth2/token",
            form: [
                ("grant_type", "client_credentials"), ("client_id", credentials.salesforceUser.consumerKey),
                ("client_secret", credentials.salesforceUser.consumerSecret!),
            ])
        return try #require(reply.json["access_token"]?.stringValue)
    }

    /// A FHIR access token through a SMART Backend Services client assertion.
    func fhirToken(_ credentials: SandboxCredentials = TestSandbox.credentials, scope: String = SandboxScopes.all)
        async throws -> String
    {
        let reply = try await fhirTokenReply(credentials, scope: scope)
        return try #require(reply.json["access_token"]?.stringValue)
    }

    func fhirTokenReply(
        _ credentials: SandboxCredentials = TestSandbox.credentials, scope: String = SandboxScopes.all,
        assertion: String? = nil
    ) async throws -> Reply {
        let signed = try await credentials.fhirAssertion(tokenURL: TestSandbox.fhirBase + "/auth/token")
        return try await call(
            .post, "/fhir/auth/token",
            form: [
                ("grant_type", "client_credentials"), ("scope", scope),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion ?? signed),
            ])
    }
}

/// The path and query of an absolute URL the sandbox returned (`http://sandbox.test/fhir?…` → `/fhir?…`).
func relative(_ url: String) -> String {
    url.hasPrefix(TestSandbox.salesforceBase) ? String(url.dropFirst(TestSandbox.salesforceBase.count)) : url
}

/// SMART v2 scopes, one per resource type the FHIR simulator serves: what every profile grants,
/// `certified` included (v2 only, per resource; no wildcards).
enum SandboxScopes {
    static let all = (Sandbox.fhirResourceTypes + ["Group"]).map { "system/\($0).rs system/\($0).cu" }.joined(separator: " ")
}
