import StagelinkEngine

/// The console without a terminal: keys in, the screen model out. For tests, benchmarks and
/// tools that need to see exactly what a person would see.
///
/// For example:
///
/// ```swift
/// let console = try HeadlessConsole(store: store, actions: actions, configuration: configuration, width: 120, height: 40)
/// await console.start()
/// await console.press(.character("3"), .enter)
/// console.screen.text(row: 5)     // the first failed row of the largest error group
/// ```
@MainActor
public final class HeadlessConsole {
    let session: ConsoleSession

    public init(store: any ConsoleStore, actions: any ConsoleActions, configuration: ConsoleConfiguration, width: Int = 120, height: Int = 40) throws {
        session = ConsoleSession(
            store: store, actions: actions, configuration: configuration, theme: try configuration.loadTheme(), width: width, height: height)
    }

    /// How much background work a call waits for before it returns.
    public enum Settling: Sendable {
        /// Everything: counts, filters, refreshes, a running action.
        case all
        /// What changes the rows on screen, but not the counts in titles (the benchmark's
        /// keystroke-to-repaint).
        case screen
        /// Nothing: only what the key did at once.
        case none
    }

    /// Reads the store and shows the first view, as the real console does before its first paint.
    public func start(settling: Settling = .all) async {
        await session.start()
        await settle(settling)
    }

    /// Handles keys one after another, as typed; by default waits for the background work they
    /// started (counts, filters, actions) before returning.
    public func press(_ keys: Key..., settling: Settling = .all) async {
        for key in keys { await session.handle(key) }
        await settle(settling)
    }

    /// Types text into whatever has the keyboard (a prompt, usually).
    public func type(_ text: String, settling: Settling = .all) async {
        for key in Key.typing(text) { await session.handle(key) }
        await settle(settling)
    }

    private func settle(_ settling: Settling) async {
        switch settling {
        case .all: await session.settle()
        case .screen: await session.settleExceptCounts()
        case .none: break
        }
    }

    public func resize(width: Int, height: Int) async {
        await session.resize(width: width, height: height)
        await session.settle()
    }

    /// Polls the store's change token, as the console does on its timer, and waits for the refresh.
    public func poll() async {
        await session.poll()
        await session.settle()
    }

    /// Waits for background work (counts, refreshes, a running action).
    public func settle() async {
        await session.settle()
    }

    /// What the terminal would show now.
    public var screen: Screen { session.render() }

    /// The theme in use (`:theme` changes it).
    public var theme: Theme { session.theme }

    /// Whether the person asked to quit.
    public var hasQuit: Bool { session.exitRequested }
}
