import ArgumentParser
import Foundation
import Logging
import StagelinkEngine
import StagelinkPostgres

/// `stagelink check`: proves a configuration against the org and the EHR before the first sync.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Proves a configuration against the Salesforce org and the EHR before the first sync.",
        discussion: """
            One line per check: ✓ passed, ! warning, ✗ failed, each warning and failure with its \
            fix. It reads the configuration and its key files, the mapping and the store (without \
            writing to it), signs in to Salesforce and the EHR, reads the org's API usage and the \
            describe of every mapped object (each field exists, its type and length fit the \
            mapping, the upsert key is External ID and Unique, the integration user can create and \
            update what it writes, picklists hold every mapped value), and the EHR's SMART \
            configuration, granted scopes and CapabilityStatement (every mapped resource with the \
            interactions and search parameters the configuration uses). docs/check.md lists every \
            check. `stagelink run` runs the same checks when it starts.

            Exit codes:
              0  every check passed
              1  warnings, no failure
              2  at least one check failed

            Example:
              stagelink check --config /etc/stagelink/stagelink.yaml
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Print JSON for scripts: {\"status\", \"exitCode\", \"checks\": [{\"area\", \"subject\", \"status\", \"detail\", \"fix\"}]}.")
    var json = false

    func run() async throws {
        var logger = Logger(label: "stagelink")
        logger.logLevel = .error
        let report = await CheckRunner.report(storeOptions, logger: logger)
        if json { JSONOutput.print(report.json) } else { print(report.text) }
        throw ExitCode(report.exitCode)
    }
}

/// Runs the checks of `stagelink check` and of `stagelink run`'s start.
enum CheckRunner {
    /// Every check, from the configuration `options` name.
    static func report(_ options: StoreOptions, logger: Logger) async -> CheckReport {
        let configuration: StagelinkConfiguration
        do {
            guard let loaded = try Context.loadConfiguration(options.config) else {
                return CheckReport(checks: [
                    Check(
                        .configuration, "file", .failed, "no configuration found",
                        fix: "Pass --config FILE, set STAGELINK_CONFIG, or run in the folder holding stagelink.yaml (stagelink init writes one).")
                ])
            }
            configuration = loaded
        } catch {
            return CheckReport(checks: [
                Check(
                    .configuration, "keys", .failed, "\(error)", fix: "Correct that line; docs/configuration.md lists every key and its range.")
            ])
        }
        let mapping: MappingDocument?
        var checks = LocalChecks.configuration(configuration)
        do {
            var document = try MappingFile.load(options.mapping ?? configuration.namedMapping)
            if let zone = configuration.emrTimeZone { document.setEMRTimeZone(zone) }
            mapping = document
            checks.append(LocalChecks.mapping(document))
        } catch {
            mapping = nil
            checks.append(
                Check(.configuration, "mapping", .failed, "\(error)", fix: "Correct the mapping at the line named (docs/policy.md explains its form)."))
        }
        let store = options.store ?? configuration.store
        if let named = options.store, PostgresLocation.isURL(named) {
            checks.append(LocalChecks.server(Result { () throws(PostgresLocationError) in try PostgresLocation(parsing: named) }))
        } else if options.store == nil, let server = configuration.postgres {
            checks.append(LocalChecks.server(.success(server)))
        } else {
            checks += LocalChecks.store(store)
        }
        if let mapping {
            checks += await remote(configuration, mapping: mapping, logger: logger)
        }
        return CheckReport(checks: checks)
    }

    /// The checks that ask Salesforce and the EHR.
    static func remote(_ configuration: StagelinkConfiguration, mapping: MappingDocument, logger: Logger) async -> [Check] {
        var checks: [Check] = []
        if let salesforce = configuration.salesforce {
            checks += await SalesforceChecks.run(salesforce, mapping: mapping, logger: logger)
        }
        checks += await EMRChecks.run(configuration, mapping: mapping, logger: logger)
        return checks
    }
}
