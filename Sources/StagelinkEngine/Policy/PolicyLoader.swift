import Foundation

extension MappingDocument {
    /// Loads this file's declared owners into the store's policy table, auditing every change
    /// (see `PolicyStore.loadPolicy(_:actor:)` for how a person's later change is respected).
    @discardableResult
    public func loadPolicy(into store: any PolicyStore) async throws -> [PolicyAuditEntry] {
        try await store.loadPolicy(declaredPolicy, actor: .file(file))
    }
}
