import Foundation
import StagelinkEngine
import Testing

/// Every error code is declared once, in the catalogue: the docs' table names exactly its codes,
/// and no source file slips a code in as a loose string literal.
struct ErrorCodeCatalogueTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The codes named (in backticks) in the first column of `docs/operations.md`'s error-code table.
    static func documentedCodes(in text: String) -> Set<String> {
        guard let start = text.range(of: "\n## Error codes\n") else { return [] }
        let section = text[start.upperBound...].split(separator: "\n## ", maxSplits: 1).first ?? ""
        var codes: Set<String> = []
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let firstCell = line.dropFirst(2).prefix { $0 != "|" }
            let parts = firstCell.split(separator: "`", omittingEmptySubsequences: false)
            // Odd parts are inside backticks.
            for (index, part) in parts.enumerated() where index % 2 == 1 { codes.insert(String(part)) }
        }
        return codes
    }

    /// Where a Swift source passes a code as a literal, or holds a code-shaped literal that the
    /// catalogue does not declare: `(line, literal)` for each.
    static func looseCodes(in source: String) -> [(line: Int, literal: String)] {
        let declared = Set(ErrorCode.allCases.map(\.rawValue))
        let shaped = try! NSRegularExpression(pattern: #""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)""#)
        // A literal where a code goes: `LinkError(code: "…")`, `error.code == "…"`, `fail(field, "…"`.
        let inCodePosition = try! NSRegularExpression(pattern: #"(?:(?<![.\w])(?:code|errorCode):\s*|\bcode\s*[!=]=\s*|\bfail\((?:\w+,\s*)?)"([^"\\]*)""#)
        var found: [(Int, String)] = []
        for (number, line) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = String(line)
            let range = NSRange(text.startIndex..., in: text)
            for match in inCodePosition.matches(in: text, range: range) {
                found.append((number + 1, String(text[Range(match.range(at: 1), in: text)!])))
            }
            for match in shaped.matches(in: text, range: range) {
                let literal = String(text[Range(match.range(at: 1), in: text)!])
                guard !declared.contains(literal), !Self.isEnvironmentVariable(literal) else { continue }
                found.append((number + 1, literal))
            }
        }
        return found
    }

    /// Upper-snake literals that are names of environment variables, not codes.
    static func isEnvironmentVariable(_ literal: String) -> Bool {
        literal.hasPrefix("STAGELINK_") || literal == "NO_COLOR"
    }

    @Test func theOperationsGuideDocumentsExactlyTheCataloguedCodes() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let documented = Self.documentedCodes(in: text)
        let catalogued = Set(ErrorCode.allCases.map(\.rawValue)).union([ErrorCode.httpStatusFamily])
        #expect(documented.count > 60, "the table was read")
        #expect(catalogued.subtracting(documented).sorted() == [], "catalogued but not in docs/operations.md")
        #expect(documented.subtracting(catalogued).sorted() == [], "in docs/operations.md but not in the catalogue")
    }

    @Test func theDocumentedCodesAreReadFromTheTablesFirstColumnOnly() {
        let text = """
            # Operations

            ## Error codes

            Codes such as `PROSE_CODE` in prose do not count.

            | Code | What | Do |
            |---|---|---|
            | `A_CODE`, `another` (lowercase) | It mentions `NOT_A_CODE`. | Do `this`. |

            ## Next section
            | `LATER_TABLE` | x | y |
            """
        #expect(Self.documentedCodes(in: text) == ["A_CODE", "another"])
    }

    @Test func noSourceFileHoldsALooseOrUndeclaredCode() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var scanned = 0
        var loose: [String] = []
        for case let url as URL in enumerator where url.pathExtension == "swift" {
            let path = String(url.path.dropFirst(sources.path.count + 1))
            // The catalogue declares the codes; the sandbox plays Salesforce and the EMR, and
            // answers with their codes as their documentation writes them.
            if path == "StagelinkEngine/Domain/ErrorCode.swift" || path.hasPrefix("Sandbox/") { continue }
            scanned += 1
            let source = try String(contentsOf: url, encoding: .utf8)
            loose += Self.looseCodes(in: source).map { "Sources/\(path):\($0.line): \"\($0.literal)\"" }
        }
        #expect(scanned > 100)
        #expect(loose == [], "use the catalogue's name (ErrorCode), or declare the code there")
    }

    @Test func theGuardCatchesALiteralInACodePositionAndAnUndeclaredCodeShapedLiteral() {
        let source = """
            let a = LinkError(code: "MAPPING_WRONG_TYPE", message: "")
            let b = error.code == "lock-error"
            throw fail(field, "MAPPING_SOMETHING_NEW", "is new")
            let c = ["BRAND_NEW_CODE"]
            let d = LinkError(.mappingWrongType, message: "")
            let e = ["UNABLE_TO_LOCK_ROW"]
            let f = environment["STAGELINK_CONFIG"]
            let g = "SELECT"
            case .errorCode: "IFNULL(errorCode, '')"
            """
        let found = Self.looseCodes(in: source)
        #expect(found.map(\.line) == [1, 2, 3, 3, 4])
        #expect(found.map(\.literal) == ["MAPPING_WRONG_TYPE", "lock-error", "MAPPING_SOMETHING_NEW", "MAPPING_SOMETHING_NEW", "BRAND_NEW_CODE"])
    }

    @Test func transientCodesAreTheCataloguesAndDeclaredPerSystem() {
        let transient = LinkError.transientCodes
        #expect(transient.isSuperset(of: ["UNABLE_TO_LOCK_ROW", "lock-error", "HTTP_503", "VERSION_MOVED", "CONNECTION_FAILED"]))
        #expect(!transient.contains(ErrorCode.multipleMatches.rawValue), "several matches wait for a person")
        #expect(!transient.contains(ErrorCode.mappingInvalidDate.rawValue))
        // Each system whose failures can be momentary has its transient codes declared as its own.
        for origin in [ErrorCode.Origin.stagelink, .salesforce, .emr] {
            #expect(ErrorCode.allCases.contains { $0.origin == origin && $0.isTransient }, "\(origin)")
        }
        #expect(ErrorCode.unableToLockRow.origin == .salesforce)
        #expect(ErrorCode.fhirLockError.origin == .emr)
        #expect(ErrorCode.http503.origin == .stagelink)
        #expect(LinkError.configurationCodes == [ErrorCode.searchRefused.rawValue, ErrorCode.originNotAllowed.rawValue])
    }

    @Test func aRemoteSystemsOwnCodePassesThroughUnchanged() {
        let remote = LinkError(code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "Birthdate cannot be in the future")
        #expect(remote.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
        #expect(remote.catalogued == nil)
        #expect(!remote.isTransient)
        #expect(LinkError(.unableToLockRow, message: "locked").isTransient)
        #expect(LinkError(code: "UNABLE_TO_LOCK_ROW", message: "locked").catalogued == .unableToLockRow)
    }

    @Test func everyCodeIsShapedAsItsSystemWritesIt() {
        for code in ErrorCode.allCases {
            let raw = code.rawValue
            switch code.origin {
            case .stagelink, .salesforce:
                #expect(raw.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" }, "\(raw)")
            case .emr:
                #expect(raw.allSatisfy { $0.isLowercase || $0 == "-" }, "\(raw): FHIR issue types are lowercase")
            case .oauth:
                #expect(raw.allSatisfy { $0.isLowercase || $0 == "_" }, "\(raw): RFC 6749 error codes are lowercase")
            }
            #expect(!code.meaning.isEmpty)
        }
        #expect(ErrorCode.httpStatus(404) == "HTTP_404")
        #expect(ErrorCode.httpStatus(in: ErrorCode.http503.rawValue) == 503)
        #expect(ErrorCode.httpStatus(in: "HTTP_") == nil)
        #expect(ErrorCode.httpStatus(in: "UNABLE_TO_LOCK_ROW") == nil)
    }

    @Test func oneCodeForAnIdThatFailsValidation() {
        let codes = ErrorCode.allCases.map(\.rawValue)
        #expect(codes.contains("INVALID_IDENTIFIER"))
        #expect(!codes.contains("MAPPING_INVALID_ID"), "an invalid id is INVALID_IDENTIFIER, wherever it is found")
    }
}
