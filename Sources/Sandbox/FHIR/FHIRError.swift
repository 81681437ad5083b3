/// A failed FHIR call: its status and the `OperationOutcome` that explains it.
///
/// Diagnostics name elements and parameters, never the values a client sent.
struct FHIRError: Error, Sendable {
    var status: Int
    var code: String
    var diagnostics: String
    var expression: [String] = []
    var headers: [(HeaderField.Name, String)] = []

    /// The `OperationOutcome` body.
    var outcome: WireJSON {
        var issue = WireObject([
            ("severity", .string(status >= 500 ? "fatal" : "error")), ("code", .string(code)),
            ("diagnostics", .string(diagnostics)),
        ])
        if !expression.isEmpty { issue["expression"] = .array(expression.map(WireJSON.string)) }
        return ["resourceType": "OperationOutcome", "issue": [.object(issue)]]
    }

    static func notFound(_ type: String, _ id: String) -> FHIRError {
        FHIRError(status: 404, code: "not-found", diagnostics: "Resource \(type)/\(id) is not known")
    }

    /// A read of a deleted resource (FHIR R4 http.html#read: 410 Gone).
    static func gone(_ type: String, _ id: String) -> FHIRError {
        FHIRError(status: 410, code: "deleted", diagnostics: "Resource \(type)/\(id) has been deleted")
    }

    static func invalid(_ element: String, _ problem: String) -> FHIRError {
        FHIRError(status: 400, code: "value", diagnostics: "\(element): \(problem)", expression: [element])
    }

    static func processing(_ diagnostics: String, status: Int = 400) -> FHIRError {
        FHIRError(status: status, code: "processing", diagnostics: diagnostics)
    }

    static let unauthorized = FHIRError(
        status: 401, code: "login", diagnostics: "A valid bearer token is required",
        headers: [(.wwwAuthenticate, "Bearer realm=\"fhir\", error=\"invalid_token\"")])

    static func forbidden(_ scope: String) -> FHIRError {
        FHIRError(status: 403, code: "forbidden", diagnostics: "The token's scopes do not allow \(scope)")
    }
}
