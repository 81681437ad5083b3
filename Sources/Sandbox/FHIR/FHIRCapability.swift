/// The CapabilityStatement of `GET /fhir/metadata`, as the profile behaves: `certified` lists only
/// the patient-naming search parameters of patient data and, like `generic`, declares the Bulk Data
/// export operations and instantiates the Bulk Data IG's server CapabilityStatement. Each resource
/// lists the interactions the profile offers (`update` only where PUT is, `patch` everywhere, with
/// `patchFormat` JSON Patch as Oracle Health's statement lists it) and whether `conditionalCreate` is.
enum FHIRCapability {
    private static let searchParameters: [String: [(String, String)]] = [
        "Patient": [("identifier", "token")],
        "EpisodeOfCare": [("identifier", "token"), ("patient", "reference")],
        "QuestionnaireResponse": [("identifier", "token"), ("patient", "reference"), ("subject", "reference")],
        "ServiceRequest": [("identifier", "token"), ("patient", "reference"), ("subject", "reference")],
        "Questionnaire": [("identifier", "token"), ("url", "uri")],
    ]

    /// The Bulk Data IG v2 definitions the export operations instantiate.
    static let bulkDataServer = "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"
    static let exportDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    static let groupExportDefinition = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"

    static func statement(base: String, profile: EMRProfile = .generic) -> WireJSON {
        var resources: [WireJSON] = EMRStore.resourceTypes.map { type in
            var parameters = [("_id", "token")] + (searchParameters[type] ?? [])
            // A certified EHR lists no population parameter for patient data: `_lastUpdated` alone is refused.
            if !(profile.refusesPopulationSearch && EMRProfile.patientScopedTypes.contains(type)) {
                parameters.insert(("_lastUpdated", "date"), at: 1)
            }
            return [
                "type": .string(type),
                "interaction": .array(profile.interactions.map { ["code": .string($0)] }),
                "versioning": "versioned-update", "readHistory": true, "updateCreate": .bool(profile.offersPutUpdate),
                "conditionalCreate": .bool(profile.offersConditionalCreate),
                "searchParam": .array(parameters.map { ["name": .string($0.0), "type": .string($0.1)] }),
            ]
        }
        var instantiates: [WireJSON] = []
        var systemOperations: [WireJSON] = []
        if profile.offersBulkExport {
            instantiates = [.string(bulkDataServer)]
            systemOperations = [["name": "export", "definition": .string(exportDefinition)]]
            resources.append([
                "type": "Group", "interaction": [["code": "read"], ["code": "search-type"]],
                "operation": [["name": "export", "definition": .string(groupExportDefinition)]],
            ])
        }
        return [
            "resourceType": "CapabilityStatement", "status": "active", "date": "2024-06-01", "kind": "instance",
            "instantiates": .array(instantiates),
            "software": ["name": "Stagelink FHIR sandbox", "version": "1.0"],
            "implementation": ["description": "Stagelink FHIR R4 simulator", "url": .string(base)],
            "fhirVersion": "4.0.1", "format": ["json"], "patchFormat": [.string(JSONPatch.mediaType)],
            "rest": [
                [
                    "mode": "server",
                    "security": [
                        "service": [
                            [
                                "coding": [
                                    [
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    ]
                                ]
                            ]
                        ],
                        "extension": [
                            [
                                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                "extension": [["url": "token", "valueUri": .string(base + "/auth/token")]],
                            ]
                        ],
                    ],
                    "resource": .array(resources),
                    "interaction": .array(profile.offersBatch ? [["code": "batch"]] : []),
                    "operation": .array(systemOperations),
                ]
            ],
        ]
    }
}
