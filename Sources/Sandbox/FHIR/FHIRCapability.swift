/// The CapabilityStatement of `GET /fhir/metadata`.
enum FHIRCapability {
    private static let searchParameters: [String: [(String, String)]] = [
        "Patient": [("identifier", "token")],
        "EpisodeOfCare": [("identifier", "token"), ("patient", "reference")],
        "QuestionnaireResponse": [("identifier", "token"), ("patient", "reference"), ("subject", "reference")],
        "ServiceRequest": [("identifier", "token"), ("patient", "reference"), ("subject", "reference")],
        "Questionnaire": [("identifier", "token"), ("url", "uri")],
    ]

    static func statement(base: String) -> WireJSON {
        let resources: [WireJSON] = EMRStore.resourceTypes.map { type in
            let parameters = [("_id", "token"), ("_lastUpdated", "date")] + (searchParameters[type] ?? [])
            return [
                "type": .string(type),
                "interaction": .array(["read", "vread", "create", "update", "search-type"].map { ["code": .string($0)] }),
                "versioning": "versioned-update", "readHistory": true, "updateCreate": true, "conditionalCreate": true,
                "searchParam": .array(parameters.map { ["name": .string($0.0), "type": .string($0.1)] }),
            ]
        }
        return [
            "resourceType": "CapabilityStatement", "status": "active", "date": "2024-06-01", "kind": "instance",
            "software": ["name": "Stagelink FHIR sandbox", "version": "1.0"],
            "implementation": ["description": "Stagelink FHIR R4 simulator", "url": .string(base)],
            "fhirVersion": "4.0.1", "format": ["json"],
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
                ]
            ],
        ]
    }
}
