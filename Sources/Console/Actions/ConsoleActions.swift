import StagelinkEngine

/// The actions the console can take, supplied by whoever starts it: the console calls these and
/// shows their outcome, and implements no sync logic of its own.
///
/// `OperationsConsoleActions` provides retry, ignore and policy changes over the engine's
/// `Operations`; the executable adds push, sync-now and conflict resolution where it has the
/// service and its connections. An action a conforming type cannot do says why through
/// `unavailability(of:)`, and the console tells the person instead of prompting them.
///
/// For example:
///
/// ```swift
/// struct ServiceActions: ConsoleActions {
///     var base: OperationsConsoleActions
///     var service: SyncService
///     func unavailability(of kind: ConsoleAction.Kind) -> String? { nil }
///     func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome {
///         switch action {
///         case .syncNow: try await service.syncNow(by: operatorName).consoleOutcome
///         default: try await base.perform(action, by: operatorName)
///         }
///     }
/// }
/// ```
public protocol ConsoleActions: Sendable {
    /// Why this kind of action cannot run here (`push needs an EMR connection`), or nil when it can.
    func unavailability(of kind: ConsoleAction.Kind) -> String?

    /// Runs the action, naming `operatorName` in the audit trail. Throws when it could not run at
    /// all; an action that ran with mixed results returns an outcome that says so.
    func perform(_ action: ConsoleAction, by operatorName: String) async throws -> ActionOutcome
}

/// A console action refused before it ran.
public struct ConsoleActionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// The action's kind is not available from this console.
    public static func unavailable(_ kind: ConsoleAction.Kind, _ reason: String) -> ConsoleActionError {
        ConsoleActionError("\(kind.rawValue) is not available here: \(reason)")
    }

    public var description: String { message }
}
