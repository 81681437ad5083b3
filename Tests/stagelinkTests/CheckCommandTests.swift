import ArgumentParser
import Foundation
import Logging
import Sandbox
import SalesforceClient
import StagelinkBenchmarks
import StagelinkDefaults
import StagelinkEngine
import StagelinkStore
import StagelinkTestSupport
import Testing

@testable import stagelink

/// `stagelink check` against the sandbox: the default configuration passes every check, and each
/// mistake an administrator makes fails the check that names it, with its fix.
struct CheckCommandTests {
    /// A stagelink.yaml in `temporary` pointing at `harness`'s sandbox, and a mapping (the
    /// built-in one after `edit`); the configuration's path, which lasts as long as `temporary`.
    static func configuration(
        _ harness: SandboxHarness, in temporary: TemporaryFolder, yaml extra: String = "", emr emrExtra: String = "",
        salesforce salesforceExtra: String = "", editMapping edit: (String) -> String = { $0 }
    ) throws -> String {
        let folder = temporary.url
        try edit(BuiltInFiles.mapping).write(to: folder.appendingPathComponent("mapping.yaml"), atomically: true, encoding: .utf8)
        let user = harness.credentials.salesforceUser
        let yaml = """
            store: store.sqlite
            mapping: mapping.yaml
            salesforce:
              loginURL: \(harness.sandbox.salesforceURL)
              auth: { flow: jwt-bearer, consumerKey: \(user.consumerKey), username: \(user.username), privateKeyFile: \(harness.files.salesforcePrivateKey.path) }
              http: { requestTimeout: 5s, maxAttempts: 2 }
            \(salesforceExtra)
            emr:
              baseURL: \(harness.sandbox.fhirURL)
              clientID: \(harness.credentials.fhirClient.clientID)
              privateKeyFile: \(harness.files.fhirPrivateKey.path)
              algorithm: \(harness.credentials.fhirAlgorithm)
              http: { requestTimeout: 5s, maxAttempts: 2 }
            \(emrExtra)
            \(extra)
            """
        let file = folder.appendingPathComponent("stagelink.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    static func check(
        _ harness: SandboxHarness, yaml extra: String = "", emr emrExtra: String = "", salesforce salesforceExtra: String = "",
        editMapping edit: (String) -> String = { $0 }
    ) async throws -> CheckReport {
        let temporary = try TemporaryFolder("check")
        let file = try configuration(harness, in: temporary, yaml: extra, emr: emrExtra, salesforce: salesforceExtra, editMapping: edit)
        return await CheckRunner.report(try StoreOptions.parse(["--config", file]), logger: SandboxHarness.silent)
    }

    static func failures(_ report: CheckReport) -> [Check] { report.checks.filter { $0.status == .failed } }

    static func fields(replacing name: String, with field: CustomFieldSpec) -> [CustomFieldSpec] {
        CustomFieldSpec.stagelinkDefaults.map { $0.object == field.object && $0.field.name == name ? field : $0 }
    }

    @Test func theDefaultConfigurationPassesEveryCheckAndExitsZero() async throws {
        let report = try await SandboxHarness.with { harness in try await Self.check(harness) }
        #expect(report.checks.filter { $0.status != .passed }.map(\.line) == [])
        #expect(report.exitCode == 0)
        let subjects = Set(report.checks.map { "\($0.area.rawValue) \($0.subject)" })
        for expected in [
            "configuration keys", "configuration salesforce.auth.privateKeyFile", "configuration emr.privateKeyFile", "configuration endpoints",
            "configuration mapping", "store writable", "store disk space", "salesforce sign-in", "salesforce API limit", "salesforce Contact",
            "salesforce Assessment__c", "salesforce Admission__c", "emr SMART discovery", "emr sign-in", "emr scopes", "emr Patient",
            "emr EpisodeOfCare", "emr QuestionnaireResponse", "emr ServiceRequest",
        ] {
            #expect(subjects.contains(expected), "no check of \(expected)")
        }
        #expect(report.text.contains("✓ salesforce     Contact: 15 of 15 mapped fields exist"))
        let json = report.json
        #expect(json["exitCode"] == .number("0"))
        #expect(json["checks"]?[0]?["status"]?.stringValue == "pass")
    }

    @Test func aMisspeltFieldInTheMappingFailsNamingTheFieldAndExitsTwo() async throws {
        let report = try await SandboxHarness.with { harness in
            try await Self.check(harness) { $0.replacingOccurrences(of: "field: Gender__c", with: "field: Gendr__c") }
        }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["Contact.Gendr__c"])
        #expect(failures.first?.detail.contains("no such field on Contact") == true)
        #expect(failures.first?.line.contains("Fix: Create the field, correct its name in the mapping") == true)
        #expect(report.exitCode == 2)
        #expect(report.blockingFailures.count == 1)
    }

    @Test func aTextFieldShorterThanTheMappingsMaxLengthFails() async throws {
        let report = try await SandboxHarness.with { harness in
            try await Self.check(harness) {
                $0.replacingOccurrences(of: "{ field: FirstName, path: \"name[0].given[0]\", maxLength: 40", with: "{ field: FirstName, path: \"name[0].given[0]\", maxLength: 60")
            }
        }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["Contact.FirstName"])
        #expect(failures.first?.detail.contains("holds at most 40 characters; the mapping (inbound patients) writes up to 60") == true)
        #expect(failures.first?.fix == "Raise the field's length to 60 in Setup, or lower maxLength in the mapping.")
    }

    @Test func anUpsertKeyThatIsNotExternalIDFailsAndOneThatIsNotUniqueWarns() async throws {
        let notExternal = try await SandboxHarness.with(configure: {
            $0.customFields = Self.fields(
                replacing: "EMR_Assessment_Id__c", with: CustomFieldSpec(object: "Assessment__c", name: "EMR_Assessment_Id__c", maxLength: 64))
        }) { harness in try await Self.check(harness) }
        #expect(Self.failures(notExternal).map(\.subject) == ["Assessment__c.EMR_Assessment_Id__c"])
        #expect(Self.failures(notExternal).first?.detail.contains("is the upsert key of inbound assessments but is not marked External ID") == true)

        let notUnique = try await SandboxHarness.with(configure: {
            $0.customFields = Self.fields(
                replacing: "EMR_Assessment_Id__c",
                with: CustomFieldSpec(object: "Assessment__c", name: "EMR_Assessment_Id__c", maxLength: 64, externalId: true))
        }) { harness in try await Self.check(harness) }
        #expect(Self.failures(notUnique).isEmpty)
        #expect(notUnique.checks.filter { $0.status == .warning }.map(\.subject) == ["Assessment__c.EMR_Assessment_Id__c"])
        #expect(notUnique.exitCode == 1)
    }

    @Test func aFieldWhoseTypeCannotHoldTheMappedValuesFails() async throws {
        let report = try await SandboxHarness.with(configure: {
            $0.customFields = Self.fields(replacing: "Admit_Date__c", with: CustomFieldSpec(object: "Contact", name: "Admit_Date__c", type: .double))
        }) { harness in try await Self.check(harness) }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["Contact.Admit_Date__c"])
        #expect(failures.first?.detail == "is a double field; the mapping (inbound episodes) writes values that need date")
    }

    @Test func aRestrictedPicklistWithoutAMappedValueFailsNamingTheValue() async throws {
        let report = try await SandboxHarness.with(configure: {
            $0.customFields = Self.fields(
                replacing: "Clinical_Status__c",
                with: CustomFieldSpec(object: "Contact", name: "Clinical_Status__c", type: .picklist, values: ["Planned", "Active", "Discharged"]))
        }) { harness in try await Self.check(harness) }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["Contact.Clinical_Status__c"])
        #expect(failures.first?.detail.contains("its restricted picklist lacks \"Waitlist\", \"On Hold\", \"Cancelled\"") == true)
    }

    @Test func aRequiredFieldTheMappingDoesNotFillFails() async throws {
        let report = try await SandboxHarness.with(configure: {
            $0.customFields = CustomFieldSpec.stagelinkDefaults + [CustomFieldSpec(object: "Contact", name: "Consent_Status__c", required: true)]
        }) { harness in try await Self.check(harness) }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["Contact.Consent_Status__c"])
        #expect(failures.first?.detail.contains("required on Contact but not mapped") == true)
        #expect(report.text.contains("✓ salesforce     Contact: 15 of 15 mapped fields exist"))
    }

    @Test func aFieldTheIntegrationUserMayNotEditFailsAndItsWritesAreRefused() async throws {
        try await SandboxHarness.with { harness in
            try harness.sandbox.inspection.setFieldEditable("Contact", field: "Phone", editable: false)
            let report = try await Self.check(harness)
            let failures = Self.failures(report)
            #expect(failures.map(\.subject) == ["Contact.Phone"])
            #expect(failures.first?.detail.contains("the integration user cannot create or update it (field-level security)") == true)
            #expect(failures.first?.fix == "Give the integration user's permission set Edit access to Contact.Phone.")
            // The org refuses the write the check warned of.
            let salesforce = try await harness.salesforce()
            let record = TargetRecord(fields: [
                MappedField(name: "EMR_Patient_Id__c", value: .text("check-1")), MappedField(name: "LastName", value: .text("Okafor")),
                MappedField(name: "Phone", value: .text("555-0100")),
            ])
            let results = try await salesforce.upsert(object: "Contact", externalIDField: "EMR_Patient_Id__c", records: [record])
            guard case .failure(let error)? = results.first else {
                Issue.record("the write of a read-only field was accepted: \(results)")
                return
            }
            #expect(error.code == "INVALID_FIELD_FOR_INSERT_UPDATE")
            #expect(error.fields == ["Phone"])
            // Given back, the check passes again.
            try harness.sandbox.inspection.setFieldEditable("Contact", field: "Phone", editable: true)
            #expect(Self.failures(try await Self.check(harness)).isEmpty)
        }
    }

    @Test func aConfiguredScopeWithoutWhatTheMappingNeedsFails() async throws {
        let report = try await SandboxHarness.with { harness in
            try await Self.check(harness, emr: "  scope: system/Patient.rs system/EpisodeOfCare.rs system/QuestionnaireResponse.rs")
        }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["scopes"])
        #expect(failures.first?.detail == "emr.scope does not ask for system/Patient.cu system/ServiceRequest.s system/ServiceRequest.c, which the mapping needs")
    }

    @Test func aScopeTheEHRDoesNotGrantFailsTheSignInNamingIt() async throws {
        let report = try await SandboxHarness.with(configure: { configuration in
            for index in configuration.fhirClients.indices {
                configuration.fhirClients[index].allowedScopes = ["system/Patient.rs", "system/Patient.cu", "system/EpisodeOfCare.rs", "system/QuestionnaireResponse.rs"]
            }
        }) { harness in try await Self.check(harness) }
        let failures = Self.failures(report)
        #expect(failures.map(\.subject) == ["sign-in"])
        #expect(failures.first?.area == .emr)
        #expect(failures.first?.line.contains("ServiceRequest") == true)
        #expect(failures.first?.transient == false)
    }

    @Test func eachSalesforceSignInRefusalIsExplainedByItsCause() async throws {
        let notApproved = try await SandboxHarness.with(configure: { configuration in
            for index in configuration.salesforceUsers.indices { configuration.salesforceUsers[index].preAuthorized = false }
        }) { harness in try await Self.check(harness) }
        #expect(Self.failures(notApproved).map(\.subject) == ["sign-in"])
        #expect(Self.failures(notApproved).first?.detail.contains("not pre-authorized for the connected app") == true)
        #expect(Self.failures(notApproved).first?.fix?.contains("Admin approved users are pre-authorized") == true)

        let audience = try await SandboxHarness.with { harness in
            try await Self.check(harness, salesforce: "  assertionAudience: https://login.salesforce.com")
        }
        #expect(Self.failures(audience).first?.detail.contains("audience") == true)

        #expect(SignInRefusal.salesforce(LinkError(code: "invalid_client_id", message: "client identifier invalid")).cause.contains("no connected app with this consumer key"))
        #expect(SignInRefusal.salesforce(LinkError(code: "invalid_grant", message: "expired authorization code")).cause.contains("clock is behind"))
        #expect(SignInRefusal.salesforce(LinkError(code: "invalid_grant", message: "invalid assertion")).fix.contains("renew it if it expired"))
    }

    @Test func aCertifiedEHRPulledBySearchFailsPointingToBulkExport() async throws {
        let bySearch = try await SandboxHarness.with(configure: { $0.emrProfile = .certified }) { harness in
            try await Self.check(harness)
        }
        let failures = Self.failures(bySearch)
        #expect(failures.map(\.subject) == ["Patient", "EpisodeOfCare", "QuestionnaireResponse"])
        #expect(failures.first?.detail == "the CapabilityStatement does not offer search by _lastUpdated")
        #expect(failures.first?.fix?.contains("set emr.pull: bulk and emr.bulk.group") == true)

        let byExport = try await SandboxHarness.with(configure: { $0.emrProfile = .certified }) { harness in
            try await Self.check(harness, emr: "  pull: bulk\n  bulk: { group: all-patients }")
        }
        #expect(Self.failures(byExport).map(\.line) == [])
        #expect(byExport.checks.contains { $0.subject == "bulk export" && $0.status == .passed })
    }

    @Test func aKeyFileOthersMayReadWarnsAndAMissingOneFails() throws {
        let temporary = try TemporaryFolder("check-keys")
        let folder = temporary.url
        let key = folder.appendingPathComponent("key.pem")
        try Data("x".utf8).write(to: key)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key.path)
        let open = LocalChecks.keyFile("emr.privateKeyFile", key.path)
        #expect(open.status == .warning)
        #expect(open.fix == "Run chmod 600 \(key.path).")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key.path)
        #expect(LocalChecks.keyFile("emr.privateKeyFile", key.path).status == .passed)
        #expect(LocalChecks.keyFile("emr.privateKeyFile", folder.appendingPathComponent("none.pem").path).status == .failed)
    }

    @Test func theStoreCheckReadsTheSchemaWithoutWritingAndRefusesAnUnwritableFolder() throws {
        let store = try SQLiteStore.temporary("check-store")
        let checks = LocalChecks.store(store.path)
        #expect(checks.first { $0.subject == "migrations" }?.detail == "schema \(try SQLiteStore.schemaVersion(at: store.path).current), current")
        #expect(checks.first { $0.subject == "writable" }?.status == .passed)
        let missing = LocalChecks.store("/proc/no-such-folder/store.sqlite")
        #expect(missing.first { $0.subject == "writable" }?.status == .failed)
    }

    @Test func theOrgsAPIUsageAtTheConfiguredShareFailsAsTransient() async throws {
        let report = try await SandboxHarness.with(configure: { $0.dailyAPILimit = 20 }) { harness in
            let salesforce = try await harness.salesforce(limitShare: 1)
            for _ in 0..<12 { _ = try await salesforce.dailyAPIUsage() }
            return try await Self.check(harness, salesforce: "  limitShare: 0.5")
        }
        let limit = report.checks.first { $0.subject == "API limit" }
        #expect(limit?.status == .failed)
        #expect(limit?.detail.contains("20 daily API requests") == true)
        #expect(limit?.fix == SalesforceChecks.limitFix)
        // It clears as the day's window moves on: `run` starts (its jobs stop cleanly at the share).
        #expect(limit?.transient == true)
    }

    @Test func runRefusesToStartOnAFailedCheckAndStartsWhenASystemIsOnlyUnreachable() async throws {
        try await SandboxHarness.with { harness in
            let first = try TemporaryFolder("check")
            let misspelt = try Self.configuration(harness, in: first) { $0.replacingOccurrences(of: "field: Gender__c", with: "field: Gendr__c") }
            do {
                try await RunCommand.startUpChecks(try await Context.open(config: misspelt, for: .owning))
                Issue.record("run started with a misspelt field in its mapping")
            } catch let error as SetupError {
                #expect(error.exitCode == 3)
                #expect(error.message.hasPrefix("refusing to start: 1 start-up check failed"))
                #expect(error.message.contains("✗ salesforce     Contact.Gendr__c: no such field on Contact"))
            }
            let second = try TemporaryFolder("check")
            try await RunCommand.startUpChecks(try await Context.open(config: try Self.configuration(harness, in: second), for: .owning))
        }
        // The EHR and the org gone (a stopped sandbox): nothing is known to be wrong; the service starts and retries.
        let harness = try await SandboxHarness.start()
        let third = try TemporaryFolder("check")
        let path = try Self.configuration(harness, in: third)
        await harness.sandbox.stop()
        let unreachable = await CheckRunner.report(try StoreOptions.parse(["--config", path]), logger: SandboxHarness.silent)
        #expect(unreachable.exitCode == 2)
        let failed = unreachable.checks.filter { $0.status == .failed }
        #expect(failed.filter { !$0.transient }.isEmpty)
        #expect(Set(unreachable.checks.filter { $0.status == .failed }.map(\.subject)) == ["sign-in", "SMART discovery"])
        try await RunCommand.startUpChecks(try await Context.open(config: path, for: .owning))
    }

    @Test func noConfigurationIsOneFailureWithItsFix() async throws {
        let report = await CheckRunner.report(try StoreOptions.parse(["--config", "/nonexistent/stagelink.yaml"]), logger: SandboxHarness.silent)
        #expect(report.checks.count == 1)
        #expect(report.exitCode == 2)
    }
}

/// `stagelink check` with the Health Cloud mapping (`config/mapping-health-cloud.yaml`) against a
/// sandbox org whose patients are Person Accounts.
struct HealthCloudCheckTests {
    static let mapping = DocumentationTests.root.appendingPathComponent("config/mapping-health-cloud.yaml").path

    static func check(editMapping edit: @escaping (String) -> String = { $0 }) async throws -> CheckReport {
        let document = try MappingDocument.load(contentsOf: mapping)
        let yaml = try String(contentsOfFile: mapping, encoding: .utf8)
        return try await SandboxHarness.with(configure: { configuration in
            configuration.customFields = CustomFieldSpec.fields(of: document)
            configuration.people = SalesforcePeople.of(document)
        }) { harness in
            try await CheckCommandTests.check(harness, editMapping: { _ in edit(yaml) })
        }
    }

    @Test func theHealthCloudMappingPassesEveryCheckWithItsPersonAccountRecordType() async throws {
        let report = try await Self.check()
        #expect(report.checks.filter { $0.status != .passed }.map(\.line) == [])
        #expect(report.exitCode == 0)
        #expect(report.text.contains("✓ salesforce     Account: 15 of 15 mapped fields exist"))
        #expect(report.text.contains("✓ salesforce     Account record type: PersonAccount (012"))
        #expect(report.text.contains("is an active person account record type"))
    }

    @Test func aRecordTypeTheOrgLacksAndABusinessRecordTypeFail() async throws {
        let missing = try await Self.check { $0.replacingOccurrences(of: "recordType: PersonAccount", with: "recordType: Patient_Account") }
        #expect(CheckCommandTests.failures(missing).map(\.subject) == ["Account record type"])
        #expect(CheckCommandTests.failures(missing).first?.detail.contains("no active record type named Patient_Account") == true)
        let business = try await Self.check { $0.replacingOccurrences(of: "recordType: PersonAccount", with: "recordType: Business_Account") }
        #expect(CheckCommandTests.failures(business).first?.detail.contains("is a business account record type") == true)
        #expect(business.exitCode == 2)
    }
}
