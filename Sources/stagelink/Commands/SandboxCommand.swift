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

            Example:
              stagelink sandbox --salesforce-port 8443 --fhir-port 8080 --patients 500 --bad-share 0.1 \\
                --mutation-interval 5 --credentials-dir /tmp/stagelink-sandbox
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

    @Option(help: "The org's daily API request limit.")
    var dailyApiLimit = 1_000_000

    @Option(help: "The mapping file whose Salesforce custom fields the simulated org has.")
    var mapping: String?

    @Option(help: "The folder that receives the private keys and the consumer secret.")
    var credentialsDir = FileManager.default.temporaryDirectory.appending(path: "stagelink-sandbox").path

    func validate() throws {
        guard (0...65535).contains(salesforcePort), (0...65535).contains(fhirPort) else {
            throw ValidationError("Ports are between 0 and 65535.")
        }
        guard (0...1).contains(badShare) else { throw ValidationError("--bad-share is between 0 and 1.") }
        guard patients >= 0 else { throw ValidationError("--patients cannot be negative.") }
        guard mutationInterval >= 0 else { throw ValidationError("--mutation-interval cannot be negative.") }
    }

    func run() async throws {
        let credentials = try SandboxCredentials.generate()
        let files = try credentials.write(to: URL(filePath: credentialsDir))
        var configuration = SandboxConfiguration(credentials: credentials)
        configuration.customFields = CustomFieldSpec.fields(of: try MappingFile.load(mapping))
        configuration.salesforcePort = salesforcePort
        configuration.fhirPort = fhirPort
        configuration.seed = seed
        configuration.patientCount = patients
        configuration.badShare = badShare
        configuration.dailyAPILimit = dailyApiLimit
        if mutationInterval > 0 { configuration.mutationInterval = .milliseconds(Int64(mutationInterval * 1000)) }
        var logger = Logger(label: "stagelink.sandbox")
        logger.logLevel = .notice
        let sandbox = try await Sandbox.start(configuration, logger: logger, stopOnSignals: true)
        let user = credentials.salesforceUser
        let banner = """
            Salesforce  \(sandbox.salesforceURL)
              token URL        \(sandbox.salesforceTokenURL)
              username         \(user.username)
              consumer key     \(user.consumerKey)
              private key      \(files.salesforcePrivateKey.path)   (RS256 JWT bearer, aud https://login.salesforce.com)
              consumer secret  \(files.salesforceConsumerSecret.path)   (client credentials)
            FHIR        \(sandbox.fhirURL)
              token URL        \(sandbox.fhirTokenURL)
              client id        \(credentials.fhirClient.clientID)
              private key      \(files.fhirPrivateKey.path)   (\(credentials.fhirAlgorithm) client assertion)
            Inspection  \(sandbox.salesforceURL)/_sandbox/counts, /_sandbox/truth, /_sandbox/faults
            Press Ctrl-C to stop.

            """
        FileHandle.standardOutput.write(Data(banner.utf8))
        await sandbox.waitUntilStopped()
    }
}
