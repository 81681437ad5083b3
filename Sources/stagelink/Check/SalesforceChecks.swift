import Foundation
import Logging
import SalesforceClient
import StagelinkEngine
import StagelinkHTTP

/// What the mapping needs of one Salesforce field: what `stagelink check` compares with the
/// field's describe.
struct SalesforceFieldNeed: Sendable, Hashable {
    var object: String
    var field: String
    /// Salesforce field types that can hold the mapped values (`string`, `picklist`, …).
    var types: Set<String>
    /// The longest text the mapping may write (its `maxLength`, a FHIR id's 64, a code's label).
    var length: Int?
    /// Picklist values the mapping writes.
    var values: [String] = []
    /// Whether Stagelink writes the field (an upsert creates and updates).
    var writes: Bool
    /// Whether upserts match on it: it must be an External ID, and Unique.
    var upsertKey = false
    /// Where the mapping asks for it (`inbound patients`).
    var origin: String

    var qualifiedName: String { "\(object).\(field)" }

    static let textTypes: Set<String> = ["string", "textarea", "email", "phone", "url", "encryptedstring", "combobox"]
    /// A FHIR id is 1 to 64 characters (FHIR R4 datatypes, `id`).
    static let fhirIDLength = 64

    /// The Salesforce types a mapped value of this type can be written into.
    static func types(for type: FieldType) -> Set<String> {
        switch type {
        case .string: textTypes.union(["picklist"])
        case .lines: ["textarea", "string"]
        case .date: ["date"]
        case .datetime: ["datetime"]
        case .integer: ["int", "double", "currency", "percent"]
        case .decimal, .score: ["double", "currency", "percent", "int"]
        case .boolean: ["boolean"]
        case .code, .instrument, .severity: textTypes.union(["picklist"])
        case .reference: textTypes
        }
    }

    /// Every field the mapping reads or writes in Salesforce, merged per field.
    static func needs(of mapping: MappingDocument) -> [SalesforceFieldNeed] {
        var needs: [SalesforceFieldNeed] = []
        func add(_ need: SalesforceFieldNeed) {
            guard let index = needs.firstIndex(where: { $0.qualifiedName.lowercased() == need.qualifiedName.lowercased() }) else {
                needs.append(need)
                return
            }
            var merged = needs[index]
            merged.types.formIntersection(need.types)
            if merged.types.isEmpty { merged.types = need.types }
            merged.length = [merged.length, need.length].compactMap { $0 }.max()
            for value in need.values where !merged.values.contains(value) { merged.values.append(value) }
            merged.writes = merged.writes || need.writes
            merged.upsertKey = merged.upsertKey || need.upsertKey
            needs[index] = merged
        }
        let severities = mapping.instruments.flatMap { $0.severity.map(\.label) }
        for inbound in mapping.inbound {
            let origin = "inbound \(inbound.name)"
            for field in inbound.fields {
                if let dot = field.field.firstIndex(of: ".") {
                    // `Contact__r.EMR_Patient_Id__c`: the lookup field the relationship belongs to is written.
                    let relationship = String(field.field[..<dot])
                    let lookup = relationship.hasSuffix("__r") ? String(relationship.dropLast(3)) + "__c" : relationship + "Id"
                    add(SalesforceFieldNeed(object: inbound.object, field: lookup, types: ["reference"], writes: true, origin: origin))
                    continue
                }
                var length = field.maxLength
                var values: [String] = []
                switch field.type {
                case .code, .instrument: values = field.values.map(\.label)
                case .severity: values = severities
                case .reference: length = length ?? fhirIDLength
                default: break
                }
                if !values.isEmpty { length = max(length ?? 0, values.map(\.count).max() ?? 0) }
                add(
                    SalesforceFieldNeed(
                        object: inbound.object, field: field.field, types: types(for: field.type), length: length, values: values, writes: true,
                        upsertKey: field.field == inbound.externalID, origin: origin))
            }
        }
        if let admissions = mapping.outbound.admissions {
            let origin = "outbound admissions"
            add(
                SalesforceFieldNeed(
                    object: admissions.object, field: admissions.stageField, types: textTypes.union(["picklist"]), values: [admissions.readyValue],
                    writes: false, origin: origin))
            add(SalesforceFieldNeed(object: admissions.object, field: admissions.contactField, types: ["reference"], writes: false, origin: origin))
            add(
                SalesforceFieldNeed(
                    object: admissions.object, field: admissions.serviceRequest.externalIDField, types: textTypes, length: fhirIDLength,
                    writes: true, origin: origin))
            for field in admissions.serviceRequest.fields {
                add(
                    SalesforceFieldNeed(
                        object: admissions.object, field: field.field, types: types(for: field.type), writes: false, origin: origin))
            }
        }
        return needs
    }

    /// What is wrong with `field` for this need: failures, then warnings; empty when it fits.
    func problems(_ field: SObjectSchema.Field) -> [Check] {
        var checks: [Check] = []
        func fail(_ detail: String, _ fix: String) { checks.append(Check(.salesforce, qualifiedName, .failed, detail, fix: fix)) }
        func warn(_ detail: String, _ fix: String) { checks.append(Check(.salesforce, qualifiedName, .warning, detail, fix: fix)) }
        if !types.contains(field.type) {
            fail(
                "is a \(field.type) field; the mapping (\(origin)) writes values that need \(types.sorted().joined(separator: ", "))",
                "Change the field's type, or map another field.")
        }
        if Self.textTypes.contains(field.type), let length, field.length < length {
            fail(
                "holds at most \(field.length) characters; the mapping (\(origin)) writes up to \(length), which Salesforce refuses with STRING_TOO_LONG",
                "Raise the field's length to \(length) in Setup, or lower maxLength in the mapping.")
        }
        if field.type == "picklist" {
            let missing = values.filter { value in !field.picklistValues.contains(value) }
            if !missing.isEmpty {
                let list = missing.map { "\"\($0)\"" }.joined(separator: ", ")
                if field.restrictedPicklist {
                    fail(
                        "its restricted picklist lacks \(list), which the mapping writes (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST)",
                        "Add \(list) to the picklist's values, or change the mapping's values.")
                } else {
                    warn("its picklist lacks \(list): Salesforce stores them as inactive values", "Add \(list) to the picklist's values.")
                }
            }
        }
        if upsertKey {
            if !field.externalID {
                fail(
                    "is the upsert key of \(origin) but is not marked External ID, so upserts by it are refused",
                    "Edit the field in Setup and tick External ID (and Unique).")
            } else if !field.unique {
                warn(
                    "is External ID but not Unique: two records with one value make every upsert of that value fail (300 Multiple Choices)",
                    "Edit the field in Setup and tick Unique.")
            }
        }
        if writes && !(field.createable && field.updateable) {
            let missing = [field.createable ? nil : "create", field.updateable ? nil : "update"].compactMap { $0 }.joined(separator: " or ")
            fail(
                "the integration user cannot \(missing) it (field-level security), so every write fails with INVALID_FIELD_FOR_INSERT_UPDATE",
                "Give the integration user's permission set Edit access to \(qualifiedName).")
        }
        return checks
    }
}

/// The Salesforce checks: sign-in, the API limit share, and the describe of every mapped object.
enum SalesforceChecks {
    static func run(_ configuration: SalesforceConfiguration, mapping: MappingDocument, logger: Logger) async -> [Check] {
        let client: SalesforceClient
        do {
            client = try await SalesforceClient(configuration: configuration, logger: logger)
        } catch {
            return [Check(.salesforce, "sign-in", .failed, "\(error)", fix: "Correct the salesforce: section of the configuration.")]
        }
        var checks: [Check] = []
        do throws(RemoteCallError) {
            let user = try await client.signIn()
            checks.append(.passed(.salesforce, "sign-in", "signed in at \(configuration.loginURL.absoluteString) as user \(user)"))
        } catch {
            checks.append(signInFailure(error))
            return checks
        }
        checks.append(await limits(client))
        checks += await objects(client, mapping: mapping)
        checks += await recordTypes(client, mapping: mapping)
        return checks
    }

    /// Each mapping's `recordType` (Person Accounts): the record type exists and is active, and on
    /// Account it is a person account record type (RecordType.IsPersonType).
    static func recordTypes(_ client: SalesforceClient, mapping: MappingDocument) async -> [Check] {
        var seen = Set<String>()
        var checks: [Check] = []
        for inbound in mapping.inbound {
            guard let name = inbound.recordType, seen.insert("\(inbound.object).\(name)").inserted else { continue }
            let subject = "\(inbound.object) record type"
            do throws(RemoteCallError) {
                guard let recordType = try await client.recordType(object: inbound.object, developerName: name) else {
                    checks.append(
                        Check(
                            .salesforce, subject, .failed,
                            "\(inbound.object) has no active record type named \(name) (inbound \(inbound.name)), so every record Stagelink creates fails with RECORD_TYPE_NOT_FOUND",
                            fix: "Correct recordType in the mapping, or enable Person Accounts and give the integration user's profile the record type."))
                    continue
                }
                if inbound.object == "Account" && !recordType.isPersonType {
                    checks.append(
                        Check(
                            .salesforce, subject, .failed,
                            "\(name) is a business account record type: a business account refuses the person fields the mapping writes",
                            fix: "Name a person account record type (PersonAccount) in the mapping's recordType."))
                    continue
                }
                let kind = recordType.isPersonType ? "person account record type" : "record type"
                checks.append(.passed(.salesforce, subject, "\(name) (\(recordType.id)) is an active \(kind); every \(inbound.object) Stagelink creates gets it"))
            } catch {
                checks.append(unreachable(subject, error))
            }
        }
        return checks
    }

    static func signInFailure(_ error: RemoteCallError) -> Check {
        guard error.kind == .unauthorized else { return unreachable("sign-in", error) }
        let (cause, fix) = SignInRefusal.salesforce(error.error)
        return Check(.salesforce, "sign-in", .failed, cause, fix: fix)
    }

    /// A call that could not be answered: the other system, not the configuration, is at fault.
    static func unreachable(_ subject: String, _ error: RemoteCallError, area: Check.Area = .salesforce) -> Check {
        let transient = [.transient, .limitReached, .malformedResponse].contains(error.kind)
        return Check(
            area, subject, .failed, "\(error.error.code): \(error.error.message)",
            fix: transient ? "Try again when the system answers; `stagelink run` starts meanwhile and retries every cycle." : "See the error above.",
            transient: transient)
    }

    static func limits(_ client: SalesforceClient) async -> Check {
        let share = client.configuration.limitShare
        let percent = Int((share * 100).rounded())
        do throws(RemoteCallError) {
            let usage = try await client.dailyAPIUsage()
            let used = Int((usage.share * 100).rounded())
            let detail = "\(usage.used) of the org's \(usage.limit) daily API requests used (\(used)%); Stagelink stops at \(percent)% (salesforce.limitShare)"
            if usage.share >= share {
                return Check(.salesforce, "API limit", .failed, detail, fix: Self.limitFix, transient: true)
            }
            if usage.share >= share * 0.8 {
                return Check(.salesforce, "API limit", .warning, detail, fix: "Find what else uses the org's API requests, or raise salesforce.limitShare.")
            }
            return .passed(.salesforce, "API limit", detail)
        } catch where error.kind == .limitReached {
            // This client's share (API_LIMIT_SHARE_REACHED, refused before sending) or the org's
            // whole limit (REQUEST_LIMIT_EXCEEDED): it clears as the 24-hour window moves on.
            return Check(.salesforce, "API limit", .failed, "\(error.error.code): \(error.error.message)", fix: Self.limitFix, transient: true)
        } catch where error.kind == .rejected && [ErrorCode.httpStatus(403), ErrorCode.insufficientAccess.rawValue, ErrorCode.apiDisabledForOrg.rawValue].contains(error.error.code) {
            return Check(
                .salesforce, "API limit", .warning, "the integration user may not read /limits (\(error.error.code)); the Sforce-Limit-Info header still keeps the share",
                fix: "Give the integration user the View Setup and Configuration permission.")
        } catch {
            return unreachable("API limit", error)
        }
    }

    static let limitFix = "Wait for the 24-hour window to free requests, find what else uses them, or raise salesforce.limitShare."

    static func objects(_ client: SalesforceClient, mapping: MappingDocument) async -> [Check] {
        let needs = SalesforceFieldNeed.needs(of: mapping)
        var objects: [String] = []
        for need in needs where !objects.contains(need.object) { objects.append(need.object) }
        var checks: [Check] = []
        for object in objects {
            let schema: SObjectSchema
            do throws(RemoteCallError) {
                schema = try await client.describe(object)
            } catch where error.kind == .rejected {
                checks.append(
                    Check(
                        .salesforce, object, .failed, "the integration user sees no object \(object) (\(error.error.code))",
                        fix: "Create the object, or give the integration user's permission set Read access to it."))
                continue
            } catch {
                checks.append(unreachable(object, error))
                continue
            }
            let objectNeeds = needs.filter { $0.object == object }
            var problems: [Check] = []
            for need in objectNeeds {
                guard let field = schema.field(named: need.field) else {
                    problems.append(
                        Check(
                            .salesforce, need.qualifiedName, .failed, "no such field on \(object) (\(need.origin)), or the integration user may not see it",
                            fix: "Create the field, correct its name in the mapping, or give the permission set Read access to it."))
                    continue
                }
                problems += need.problems(field)
            }
            // Upserts create records: a required field the mapping does not fill fails every create.
            if needs.contains(where: { $0.object == object && $0.upsertKey }) {
                var mapped = Set(objectNeeds.map { $0.field.lowercased() })
                // A person account's Name is made from its first and last names, and refused when sent.
                if mapping.inbound.contains(where: { $0.object == object && $0.recordType != nil }) { mapped.insert("name") }
                for field in schema.fields where !field.nillable && field.createable && !field.defaultedOnCreate && !mapped.contains(field.name.lowercased()) {
                    problems.append(
                        Check(
                            .salesforce, "\(object).\(field.name)", .failed,
                            "is required on \(object) but not mapped, so every record Stagelink creates fails with REQUIRED_FIELD_MISSING",
                            fix: "Map a value to it, give it a default value in Setup, or make it optional."))
                }
            }
            let failing = Set(problems.map(\.subject).filter { subject in objectNeeds.contains { $0.qualifiedName == subject } }).count
            let fine = objectNeeds.count - failing
            if fine > 0 || problems.isEmpty {
                checks.append(
                    .passed(.salesforce, object, "\(fine) of \(objectNeeds.count) mapped fields exist, fit their values and are writable where written"))
            }
            checks += problems
        }
        return checks
    }
}
