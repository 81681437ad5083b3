import Foundation
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Measures the sandbox over loopback: FHIR resources served per second on search pages, and Salesforce
/// records accepted per second through the collections upsert.
///
/// For example:
///
/// ```swift
/// let result = try await SandboxBenchmark.run(patients: 5000, records: 10_000)
/// print(result.fhirResourcesPerSecond, result.salesforceRecordsPerSecond)
/// ```
public enum SandboxBenchmark {
    /// What one run measured.
    public struct Result: Sendable {
        public var fhirResources: Int
        public var fhirSeconds: Double
        public var salesforceRecords: Int
        public var salesforceSeconds: Double

        public var fhirResourcesPerSecond: Double { Double(fhirResources) / max(fhirSeconds, 1e-9) }
        public var salesforceRecordsPerSecond: Double { Double(salesforceRecords) / max(salesforceSeconds, 1e-9) }
    }

    /// Why a benchmark run could not complete.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts a sandbox with `patients` patients, pages through them 1,000 at a time, upserts `records` Contacts
    /// 200 at a time, and stops it.
    public static func run(patients: Int = 5000, records: Int = 10_000, logger: Logger = Logger(label: "stagelink.sandbox.bench"))
        async throws -> Result
    {
        let credentials = try SandboxCredentials.generate()
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.patientCount = patients
        configuration.badShare = 0
        configuration.referralCount = 1
        let sandbox = try await Sandbox.start(configuration, logger: logger)
        do {
            let result = try await measure(sandbox, credentials: credentials, records: records)
            await sandbox.stop()
            return result
        } catch {
            await sandbox.stop()
            throw error
        }
    }

    private static func measure(_ sandbox: Sandbox, credentials: SandboxCredentials, records: Int) async throws -> Result {
        let session = URLSession(configuration: .ephemeral)
        let client = LoopbackClient(session: session)
        let fhirToken = try await client.fhirToken(sandbox: sandbox, credentials: credentials)
        var resources = 0
        var next: String? = sandbox.fhirURL + "/Patient?_count=1000"
        let fhirStart = ContinuousClock.now
        while let url = next {
            let page = try await client.json("GET", url, bearer: fhirToken)
            resources += page["entry"]?.arrayValue?.count ?? 0
            next = page["link"]?.arrayValue?.first { $0["relation"]?.stringValue == "next" }?["url"]?.stringValue
        }
        let fhirSeconds = (ContinuousClock.now - fhirStart).seconds

        let salesforceToken = try await client.salesforceToken(sandbox: sandbox, credentials: credentials)
        let url = sandbox.salesforceURL + "/services/data/v60.0/composite/sobjects/Contact/EMR_Patient_Id__c"
        var accepted = 0
        let salesforceStart = ContinuousClock.now
        for batch in stride(from: 0, to: records, by: 200) {
            let rows: [WireJSON] = (batch..<min(batch + 200, records)).map { index in
                [
                    "attributes": ["type": "Contact"], "EMR_Patient_Id__c": .string("bench-\(index)"),
                    "FirstName": "Bench", "LastName": .string("Patient \(index)"), "Gender__c": "Unknown",
                    "Birthdate": "1980-01-01", "Phone": "+1-555-200-0000",
                ]
            }
            let results = try await client.json(
                "PATCH", url, bearer: salesforceToken, body: ["allOrNone": false, "records": .array(rows)])
            accepted += results.arrayValue?.filter { $0["success"]?.boolValue == true }.count ?? 0
        }
        let salesforceSeconds = (ContinuousClock.now - salesforceStart).seconds
        guard accepted == records else { throw Failure(description: "only \(accepted) of \(records) records were accepted") }
        return Result(
            fhirResources: resources, fhirSeconds: fhirSeconds, salesforceRecords: accepted,
            salesforceSeconds: salesforceSeconds)
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A small URLSession client for the sandbox's own benchmark and smoke checks.
struct LoopbackClient: Sendable {
    let session: URLSession

    func json(_ method: String, _ url: String, bearer: String? = nil, body: WireJSON? = nil) async throws -> WireJSON {
        let (data, status) = try await send(method, url, bearer: bearer, body: body.map { Data($0.serialized()) })
        guard (200..<300).contains(status) else {
            throw SandboxBenchmark.Failure(description: "\(method) \(url) answered \(status)")
        }
        return try WireJSON.parse(Array(data))
    }

    func send(_ method: String, _ url: String, bearer: String? = nil, body: Data?, contentType: String = "application/json")
        async throws -> (Data, Int)
    {
        guard let target = URL(string: url) else { throw SandboxBenchmark.Failure(description: "bad URL") }
        var request = URLRequest(url: target)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await session.data(for: request)
        return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    func form(_ url: String, _ fields: [(String, String)]) async throws -> WireJSON {
        let body = fields.map { "\(FormEncoding.escape($0.0))=\(FormEncoding.escape($0.1))" }.joined(separator: "&")
        let (data, status) = try await send(
            "POST", url, body: Data(body.utf8), contentType: "application/x-www-form-urlencoded")
        guard status == 200 else { throw SandboxBenchmark.Failure(description: "token request answered \(status)") }
        return try WireJSON.parse(Array(data))
    }

    func fhirToken(sandbox: Sandbox, credentials: SandboxCredentials) async throws -> String {
        let assertion = try await credentials.fhirAssertion(tokenURL: sandbox.fhirTokenURL)
        let answer = try await form(
            sandbox.fhirTokenURL,
            [
                ("grant_type", "client_credentials"), ("scope", "system/*.read system/*.write"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
        guard let token = answer["access_token"]?.stringValue else { throw SandboxBenchmark.Failure(description: "no FHIR token") }
        return token
    }

    func salesforceToken(sandbox: Sandbox, credentials: SandboxCredentials) async throws -> String {
        let answer = try await form(
            sandbox.salesforceTokenURL,
            [
                ("grant_type", "client_credentials"), ("client_id", credentials.salesforceUser.consumerKey),
                ("client_secret", credentials.salesforceUser.consumerSecret ?? ""),
            ])
        guard let token = answer["access_token"]?.stringValue else {
            throw SandboxBenchmark.Failure(description: "no Salesforce token")
        }
        return token
    }
}
