import FHIRClient
import Foundation
import Logging
import StagelinkEngine
import StagelinkHTTP

/// The EMR checks: SMART discovery, sign-in, the scopes granted against what the mapping needs,
/// and the CapabilityStatement against the interactions and search parameters the
/// configuration uses.
enum EMRChecks {
    static func run(_ configuration: StagelinkConfiguration, mapping: MappingDocument, logger: Logger) async -> [Check] {
        guard let emr = configuration.emrConnection(for: mapping) else { return [] }
        let client: FHIRClient
        do {
            client = try await FHIRClient(configuration: emr, logger: logger)
        } catch {
            return [Check(.emr, "sign-in", .failed, "\(error)", fix: "Correct the emr: section of the configuration.")]
        }
        let discovery = await discovery(client, algorithm: emr.signingAlgorithm)
        guard discovery.status == .passed else { return [discovery] }
        var checks = [discovery]
        let granted: String
        do throws(RemoteCallError) {
            granted = try await client.signIn()
        } catch {
            guard error.kind == .unauthorized else { return checks + [SalesforceChecks.unreachable("sign-in", error, area: .emr)] }
            let (cause, fix) = SignInRefusal.emr(error.error, clientID: emr.clientID, scope: emr.scope)
            return checks + [Check(.emr, "sign-in", .failed, cause, fix: fix)]
        }
        checks.append(.passed(.emr, "sign-in", "signed in at \(emr.baseURL.absoluteString) as client \(emr.clientID)"))
        checks.append(scopes(needed: configuration.neededEMRScope(for: mapping), asked: emr.scope, granted: granted))
        checks += await capabilities(client, mapping: mapping, settings: configuration.settings)
        return checks
    }

    /// `.well-known/smart-configuration`: a token endpoint that takes client credentials with a
    /// signed assertion in the configured algorithm (SMART App Launch 2, "Conformance" and
    /// "Backend Services"). Lists the server leaves out are not held against it.
    static func discovery(_ client: FHIRClient, algorithm: AssertionSigner.Algorithm) async -> Check {
        let document: JSONValue
        do throws(RemoteCallError) {
            document = try await client.smartConfiguration()
        } catch where error.kind == .rejected {
            return Check(
                .emr, "SMART discovery", .failed, "\(client.configuration.baseURL.absoluteString)/.well-known/smart-configuration answered \(error.error.code)",
                fix: "Set emr.baseURL to the FHIR base the EHR publishes its SMART configuration under.")
        } catch {
            return SalesforceChecks.unreachable("SMART discovery", error, area: .emr)
        }
        func list(_ key: String) -> [String]? { document[key]?.arrayValue?.compactMap(\.stringValue) }
        guard let endpoint = document["token_endpoint"]?.stringValue else {
            return Check(
                .emr, "SMART discovery", .failed, "the SMART configuration names no token_endpoint",
                fix: "Ask the EHR's administrator for the base URL of its SMART Backend Services.")
        }
        if let grants = list("grant_types_supported"), !grants.contains("client_credentials") {
            return Check(
                .emr, "SMART discovery", .failed, "the token endpoint offers \(grants.joined(separator: ", ")), not client_credentials",
                fix: "Ask the EHR's administrator to enable SMART Backend Services for this FHIR base.")
        }
        if let methods = list("token_endpoint_auth_methods_supported"), !methods.contains("private_key_jwt") {
            return Check(
                .emr, "SMART discovery", .failed, "the token endpoint takes \(methods.joined(separator: ", ")), not private_key_jwt",
                fix: "Ask the EHR's administrator to enable asymmetric client authentication (private_key_jwt).")
        }
        if let algorithms = list("token_endpoint_auth_signing_alg_values_supported"), !algorithms.contains(algorithm.rawValue) {
            return Check(
                .emr, "SMART discovery", .failed, "the token endpoint verifies \(algorithms.joined(separator: ", ")), not \(algorithm.rawValue)",
                fix: "Set emr.algorithm to one of \(algorithms.joined(separator: ", ")) and generate a key for it (stagelink keys generate).")
        }
        return .passed(.emr, "SMART discovery", "token endpoint \(endpoint), client_credentials with an assertion signed \(algorithm.rawValue)")
    }

    /// The scopes asked for and granted against what the mapping needs.
    static func scopes(needed: String, asked: String, granted: String) -> Check {
        let notAsked = SMARTScope.refused(needed, granted: asked)
        if !notAsked.isEmpty {
            return Check(
                .emr, "scopes", .failed, "emr.scope does not ask for \(notAsked.joined(separator: " ")), which the mapping needs",
                fix: "Add them to emr.scope, or remove emr.scope to ask for exactly what the mapping needs.")
        }
        let notGranted = SMARTScope.refused(needed, granted: granted)
        if !notGranted.isEmpty {
            return Check(
                .emr, "scopes", .failed, "the EHR granted \"\(granted)\", without \(notGranted.joined(separator: " ")), which the mapping needs",
                fix: "Ask the EHR's administrator to authorise them for this client.")
        }
        return .passed(.emr, "scopes", "granted \"\(granted)\", covering what the mapping needs (\(needed))")
    }

    /// Every resource type the mapping touches, with the interactions and search parameters the
    /// client uses on it (docs/check.md).
    static func capabilities(_ client: FHIRClient, mapping: MappingDocument, settings: SyncSettings) async -> [Check] {
        let capabilities: ServerCapabilities
        do throws(RemoteCallError) {
            capabilities = try await client.capabilities()
        } catch {
            return [SalesforceChecks.unreachable("CapabilityStatement", error, area: .emr)]
        }
        var checks: [Check] = []
        let inbound = Set(mapping.inboundResources)
        for access in mapping.emrAccess {
            let type = access.resource
            guard let resource = capabilities.resource(type) else {
                checks.append(
                    Check(
                        .emr, type, .failed, "the CapabilityStatement lists no \(type), which the mapping reads or writes",
                        fix: "Ask the EHR's vendor whether it offers \(type) over FHIR R4, or remove it from the mapping."))
                continue
            }
            let offered = EMRWriteModes(interactions: resource.interactions, conditionalCreate: resource.conditionalCreate)
            let modes = EMRWriteModes(
                create: client.configuration.writes.create ?? offered.create, update: client.configuration.writes.update ?? offered.update)
            let needs = needs(for: access, pulled: inbound.contains(type), pull: settings.emrPull, writes: modes)
            let missing = needs.filter { need in
                switch need {
                case .interaction(let code): !resource.interactions.contains(code)
                case .searchParameter(let name): !resource.searchParameters.contains(name)
                case .conditionalCreate: !resource.conditionalCreate
                }
            }
            if missing.isEmpty {
                checks.append(.passed(.emr, type, needs.map(\.description).joined(separator: ", ")))
            } else {
                let population = missing.contains(.searchParameter("_lastUpdated"))
                checks.append(
                    Check(
                        .emr, type, .failed, "the CapabilityStatement does not offer \(missing.map(\.description).joined(separator: ", "))",
                        fix: population
                            ? "This EHR has no population search: set emr.pull: bulk and emr.bulk.group (docs/emr-profiles.md)."
                            : "Ask the EHR's administrator to enable them for this client, or change the mapping."))
            }
        }
        if settings.emrPull == .bulk {
            checks.append(bulkExport(capabilities, group: settings.bulk.group))
        }
        return checks
    }

    /// What the client needs of one resource type.
    enum Need: Hashable, CustomStringConvertible {
        case interaction(String)
        case searchParameter(String)
        case conditionalCreate

        var description: String {
            switch self {
            case .interaction(let code): code
            case .searchParameter(let name): "search by \(name)"
            case .conditionalCreate: "conditional create"
            }
        }
    }

    /// A delta pull by search asks `_lastUpdated` (`emr.pull: search`); a create is keyed on an
    /// identifier, either conditional (`If-None-Exist: identifier=…`) or a search by it first
    /// (`emr.writes.create: search-then-create`); an update is a PUT or a JSON Patch
    /// (`emr.writes.update`). `writes` is what the client will use: the configured modes, or else
    /// what the CapabilityStatement offers, as ``FHIRClient/writeModes(for:)`` decides.
    static func needs(for access: EMRAccess, pulled: Bool, pull: EMRPullMode, writes: EMRWriteModes) -> [Need] {
        var needs: [Need] = []
        if access.interactions.contains(.read) { needs.append(.interaction("read")) }
        if access.interactions.contains(.search) && pulled && pull == .search {
            needs += [.interaction("search-type"), .searchParameter("_lastUpdated")]
        }
        if access.interactions.contains(.create) {
            needs.append(.interaction("create"))
            switch writes.create {
            case .conditional: needs.append(.conditionalCreate)
            case .searchThenCreate: needs.append(.interaction("search-type"))
            }
            needs.append(.searchParameter("identifier"))
        }
        if access.interactions.contains(.update) {
            switch writes.update {
            case .put: needs.append(.interaction("update"))
            case .patch: needs.append(.interaction("patch"))
            }
        }
        return needs
    }

    /// `emr.pull: bulk`: the Group's `$export` (or the system's, without a group).
    static func bulkExport(_ capabilities: ServerCapabilities, group: String?) -> Check {
        if let group {
            if capabilities.resource("Group")?.operations.contains("export") == true {
                return .passed(.emr, "bulk export", "Group/\(group)/$export is offered (Bulk Data Access IG)")
            }
            return Check(
                .emr, "bulk export", .failed, "the CapabilityStatement offers no Group $export",
                fix: "Ask the EHR's administrator to enable Bulk Data export, or set emr.pull: search.")
        }
        if capabilities.systemOperations.contains("export") {
            return .passed(.emr, "bulk export", "$export is offered at system level (Bulk Data Access IG)")
        }
        return Check(
            .emr, "bulk export", .failed, "the CapabilityStatement offers no system-level $export",
            fix: "Set emr.bulk.group to the Group of patients to export, or emr.pull: search.")
    }
}
