import Foundation
import StagelinkEngine
import StagelinkHTTP

/// What a FHIR server says it can do, read from its CapabilityStatement (`GET [base]/metadata`,
/// FHIR R4 §3.1.0.1.7 "capabilities"): per resource type, the interactions, the search
/// parameters, conditional create and the operations; and the system-level operations.
///
/// For example:
///
/// ```swift
/// let capabilities = try await emr.capabilities()
/// capabilities.resource("Patient")?.searchParameters.contains("_lastUpdated")   // true on an open server
/// ```
public struct ServerCapabilities: Sendable, Hashable {
    /// One `rest.resource` entry.
    public struct Resource: Sendable, Hashable {
        public var type: String
        /// `read`, `vread`, `update`, `patch`, `create`, `search-type`, … (R4 `TypeRestfulInteraction`).
        public var interactions: Set<String>
        public var searchParameters: Set<String>
        public var conditionalCreate: Bool
        /// The names of the operations on the type (`export` on Group).
        public var operations: Set<String>

        public init(
            type: String, interactions: Set<String>, searchParameters: Set<String> = [], conditionalCreate: Bool = false,
            operations: Set<String> = []
        ) {
            self.type = type
            self.interactions = interactions
            self.searchParameters = searchParameters
            self.conditionalCreate = conditionalCreate
            self.operations = operations
        }
    }

    /// `fhirVersion` (`4.0.1`).
    public var fhirVersion: String?
    public var resources: [Resource]
    /// System-level operation names (`export`).
    public var systemOperations: Set<String>

    public init(fhirVersion: String?, resources: [Resource], systemOperations: Set<String> = []) {
        self.fhirVersion = fhirVersion
        self.resources = resources
        self.systemOperations = systemOperations
    }

    public func resource(_ type: String) -> Resource? { resources.first { $0.type == type } }

    /// Reads the server part (`rest` with `mode: server`) of a CapabilityStatement; nil when the
    /// value is not one.
    static func parse(_ value: JSONValue) -> ServerCapabilities? {
        guard value["resourceType"]?.stringValue == "CapabilityStatement" else { return nil }
        let rest = value["rest"]?.arrayValue?.first { $0["mode"]?.stringValue == "server" }
        func names(_ list: JSONValue?, _ key: String) -> Set<String> {
            Set((list?.arrayValue ?? []).compactMap { $0[key]?.stringValue })
        }
        let resources = (rest?["resource"]?.arrayValue ?? []).compactMap { entry -> Resource? in
            guard let type = entry["type"]?.stringValue else { return nil }
            var conditional = false
            if case .bool(let flag)? = entry["conditionalCreate"] { conditional = flag }
            return Resource(
                type: type, interactions: names(entry["interaction"], "code"), searchParameters: names(entry["searchParam"], "name"),
                conditionalCreate: conditional, operations: names(entry["operation"], "name"))
        }
        return ServerCapabilities(
            fhirVersion: value["fhirVersion"]?.stringValue, resources: resources, systemOperations: names(rest?["operation"], "name"))
    }
}

extension FHIRClient {
    /// `[base]/.well-known/smart-configuration` (SMART App Launch 2, "Conformance"), asked
    /// without a token: the discovery document the token endpoint is found in.
    public func smartConfiguration() async throws(RemoteCallError) -> JSONValue {
        let url = try resourceURL([".well-known", "smart-configuration"])
        let request = HTTPRequest(.get, url: url, headers: ["Accept": "application/json"], retry: .idempotent)
        return try await http.send(request) { (response) throws(RemoteCallError) -> JSONValue in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let value = try? JSONValue(parsing: response.body), value.objectValue != nil else {
                throw FHIRErrors.malformed("the SMART configuration is not a JSON object")
            }
            return value
        }
    }

    /// Signs in (or reuses the token) and answers the scopes the token grants.
    public func signIn() async throws(RemoteCallError) -> String {
        try await tokens.credential().grantedScope
    }

    /// `GET [base]/metadata` with the token: the server's CapabilityStatement.
    public func capabilities() async throws(RemoteCallError) -> ServerCapabilities {
        let request = HTTPRequest(.get, url: try resourceURL(["metadata"]), headers: ["Accept": Self.fhirJSON], retry: .idempotent)
        return try await call(request) { (response) throws(RemoteCallError) -> ServerCapabilities in
            guard response.isSuccess else { throw FHIRErrors.callError(response) }
            guard let value = try? JSONValue(parsing: response.body), let capabilities = ServerCapabilities.parse(value) else {
                throw FHIRErrors.malformed("the metadata answer is not a CapabilityStatement")
            }
            return capabilities
        }
    }
}
