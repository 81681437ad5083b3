import ArgumentParser
import Foundation
import Logging
import Sandbox
import StagelinkBenchmarks
import StagelinkEngine

/// `stagelink sandbox`: serves the Salesforce and FHIR simulators until interrupted.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Serves a Salesforce REST simulator and a FHIR R4 simulator on loopback, seeded with synthetic data.",
        discussion: """
            Both simulators share one in-memory state: synthetic patients, episodes, PHQ-9 and GAD-7 responses, \
            referral contacts and admissions, with a share of bad records. Faults, counts, the seeded truth and \
            the mutation driver are under /_sandbox/ on either port. The command writes fresh private keys and \
            the consumer secret (mode 0600) into the credentials folder and prints what a client needs. It runs \
            until SIGINT or SIGTERM.

            --emr-profile picks which kind of EHR the FHIR simulator behaves as (docs/emr-profiles.md): \
            generic (an open FHIR server, the default), certified (Epic, Oracle Health: searches of patient \
            data must name a patient; Bulk Data $export offered) or lenient (an open server behind a proxy: \
            unknown parameters and _sort ignored, pages capped, next links on another origin).

            Examples:
              stagelink sandbox --salesforce-port 8443 --fhir-port 8080 --patients 500 --bad-share 0.1 \\
                --mutation-interval 5 --credentials-dir /tmp/stagelink-sandbox
              stagelink sandbox --emr-profile certified
              stagelink sandbox --latency salesforce=150ms,emr=80ms --emr-rate-limit 50
            """
    )

    @Option(help: "The Salesforce simulator's port on 127.0.0.1; 0 picks a free one.")
    var salesforcePort = 0

    @Option(help: "The FHIR simulator's port on 127.0.0.1; 0 picks a free one.")
    var fhirPort = 0

    @Option(help: "The seed number; the same seed gives the same records.")
    var seed: UInt64 = 1

    @Option(help: "How many EMR patients to seed.")
    var patients = 200

    @Option(help: "The share of seeded records that are bad on purpose, from 0 to 1.")
    var badShare = 0.05

    @Option(help: "Seconds between edits of the mutation driver; 0 leaves it stopped.")
    var mutationInterval = 0.0

    @Option(help: "The share of the mutation driver's changes, from 0 to 1, that delete or merge a Contact or a Patient instead of editing one.")
    var deletionShare = 0.0

    @Option(help: "The org's daily API request limit.")
    var dailyApiLimit = 1_000_000

    @Option(help: "Which kind of EHR the FHIR simulator behaves as: generic, certified or lenient.")
    var emrProfile: EMRProfile = .generic

    @Option(help: "Seconds a Bulk Data export stays in progress (status polls answer 202) before its manifest is ready.")
    var exportSeconds = 1.0

    @Option(help: "The most resources one Bulk Data NDJSON output file holds.")
    var exportFileSize = 10_000

    @Option(help: "Seconds a finished export's manifest and files stay available before they answer 404.")
    var exportFileLifetime = 3600

    @Flag(help: "Make Bulk Data export ignore _since (every export is a full export), as some EHRs document.")
    var exportIgnoresSince = false

    @Option(
        help: ArgumentHelp(
            "How long each simulator takes to answer, give or take a quarter (salesforce=150ms,emr=80ms).",
            discussion: "Real Salesforce answers a collections call in 100-500 ms, an EHR a create in 50-300 ms.", valueName: "latency"))
    var latency: SandboxLatency?

    @Option(help: "The EMR's rate limit in API requests per second: over it, 429 with Retry-After (none by default).")
    var emrRateLimit: Int?

    @Option(help: "Salesforce's limit on concurrent requests running 20 s or longer: over it, REQUEST_LIMIT_EXCEEDED (25 as in production orgs; 5 in Developer Edition).")
    var salesforceLongRequestLimit = 25

    @Option(help: "The mapping file whose Salesforce custom fields the simulated org has.")
    var mapping: String?

    @Option(help: "The folder that receives the private keys and the consumer secret.")
    var credentialsDir = FileManager.default.temporaryDirectory.appending(path: "stagelink-sandbox").path

    @Option(
        name: .customLong("emr-jwks"),
        help: ArgumentHelp(
            "The FHIR client's JWK set, a file or an http(s) URL (the output of `stagelink keys jwks`).",
            discussion: "The token endpoint then checks each assertion with the key of its kid in that set, and a jku header must be that URL."))
    var emrJWKS: String?

    func validate() throws {
        guard (0...65535).contains(salesforcePort), (0...65535).contains(fhirPort) else {
            throw ValidationError("Ports are between 0 and 65535.")
        }
        guard (0...1).contains(badShare) else { throw ValidationError("--bad-share is between 0 and 1.") }
        guard (0...1).contains(deletionShare) else { throw ValidationError("--deletion-share is between 0 and 1.") }
        guard (0...1_000_000).contains(patients) else { throw ValidationError("--patients is between 0 and 1000000.") }
        // Bounded before `mutationInterval * 1000` becomes whole milliseconds: inf or 1e300 must not trap.
        guard (0...86_400).contains(mutationInterval) else { throw ValidationError("--mutation-interval is between 0 and 86400 seconds.") }
        if let emrRateLimit, !(1...100_000).contains(emrRateLimit) { throw ValidationError("--emr-rate-limit is between 1 and 100000 requests per second.") }
        guard (1...10_000).contains(salesforceLongRequestLimit) else { throw ValidationError("--salesforce-long-request-limit is between 1 and 10000.") }
        guard (1...1_000_000_000).contains(dailyApiLimit) else { throw ValidationError("--daily-api-limit is between 1 and 1000000000.") }
        guard (0...86_400).contains(exportSeconds), (1...1_000_000).contains(exportFileSize), (1...31_536_000).contains(exportFileLifetime) else {
            throw ValidationError("--export-seconds is between 0 and 86400; --export-file-size between 1 and 1000000; --export-file-lifetime between 1 and 31536000.")
        }
    }

    func run() async throws {
        let credentials = try SandboxCredentials.generate()
        let files = try credentials.write(to: URL(filePath: credentialsDir))
        var configuration = SandboxConfiguration(credentials: credentials)
        let mappingDocument = try MappingFile.load(mapping)
        configuration.customFields = CustomFieldSpec.fields(of: mappingDocument)
        configuration.people = SalesforcePeople.of(mappingDocument)
        configuration.salesforcePort = salesforcePort
        configuration.fhirPort = fhirPort
        configuration.seed = seed
        configuration.patientCount = patients
        configuration.badShare = badShare
        configuration.deletionShare = deletionShare
        configuration.dailyAPILimit = dailyApiLimit
        configuration.fhirJWKS = emrJWKS
        configuration.emrProfile = emrProfile
        configuration.bulkExport.duration = .milliseconds(Int64(exportSeconds * 1000))
        configuration.bulkExport.resourcesPerFile = exportFileSize
        configuration.bulkExport.fileLifetime = .seconds(exportFileLifetime)
        configuration.bulkExport.ignoresSince = exportIgnoresSince
        if let latency { configuration.latency = latency }
        configuration.emrRateLimit = emrRateLimit.map { RequestRate(requests: $0) }
        configuration.salesforceLongRequests.limit = salesforceLongRequestLimit
        if mutationInterval > 0 { configuration.mutationInterval = .milliseconds(Int64(mutationInterval * 1000)) }
        var logger = Logger(label: "stagelink.sandbox")
        logger.logLevel = .notice
        let sandbox = try await Sandbox.start(configuration, logger: logger, stopOnSignals: true)
        let user = credentials.salesforceUser
        let banner = """
            Salesforce  \(sandbox.salesforceURL)
              token URL        \(sandbox.salesforceTokenURL)   (the org's My Domain)
              login host       \(sandbox.salesforceLoginURL)   (plays login.salesforce.com: JWT bearer only)
              username         \(user.username)
              consumer key     \(user.consumerKey)
              private key      \(files.salesforcePrivateKey.path)   (RS256 JWT bearer; aud: the host's own URL, or https://login.salesforce.com at the login host)
              consumer secret  \(files.salesforceConsumerSecret.path)   (client credentials, at the My Domain only)
            Latency     \(configuration.latency)   EMR rate limit \(emrRateLimit.map { "\($0)/s" } ?? "none")
            FHIR        \(sandbox.fhirURL)   (profile \(emrProfile))
              token URL        \(sandbox.fhirTokenURL)
              client id        \(credentials.fhirClient.clientID)
              private key      \(files.fhirPrivateKey.path)   (\(credentials.fhirAlgorithm) client assertion)
              JWK set          \(emrJWKS ?? files.fhirJWKS.path)
            Inspection  \(sandbox.salesforceURL)/_sandbox/counts, /_sandbox/truth, /_sandbox/faults
            Press Ctrl-C to stop.

            """
        FileHandle.standardOutput.write(Data(banner.utf8))
        await sandbox.waitUntilStopped()
    }
}

extension EMRProfile: ExpressibleByArgument {}

extension SandboxLatency: ExpressibleByArgument {
    public init?(argument: String) {
        guard let latency = try? SandboxLatency(parsing: argument) else { return nil }
        self = latency
    }
}
