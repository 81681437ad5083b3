import Glibc
import StagelinkEngine

/// The operations console: staged rows, failures with their errors and payloads, the policy,
/// jobs, conflicts and live progress, with one-key retry, ignore, push and policy changes.
///
/// `run` takes over the terminal until the person quits (`q`), or a signal arrives, and always
/// gives the terminal back as it found it, on an error too.
///
/// For example:
///
/// ```swift
/// let store = try SQLiteStore(path: "stagelink.sqlite")
/// let actions = OperationsConsoleActions(operations: Operations(store: store, mapping: mapping, inbound: nil))
/// let exit = try await Console.run(store: store, actions: actions, configuration: ConsoleConfiguration(storePath: store.path))
/// // exit.code: 0 after q, 130 after Ctrl-C
/// ```
///
/// ## Topics
/// - ``ConsoleConfiguration``
/// - ``ConsoleActions``
/// - ``OperationsConsoleActions``
/// - ``HeadlessConsole``
/// - ``Theme``
public enum Console {
    /// Runs the console in this process's terminal.
    ///
    /// - Throws: `ConfigurationError` for a bad theme file, `TerminalError` when the terminal cannot
    ///   be used; both before the screen is touched.
    @MainActor
    public static func run(store: any ConsoleStore, actions: any ConsoleActions, configuration: ConsoleConfiguration) async throws -> ConsoleExit {
        let theme = try configuration.loadTheme()
        let signals = try SignalPipe()
        defer { signals.restore() }
        let terminal = try Terminal()
        defer { terminal.close() }

        let (events, continuation) = AsyncStream<LoopEvent>.makeStream(bufferingPolicy: .unbounded)
        let watcher = InputWatcher(input: STDIN_FILENO, signals: signals.readDescriptor, events: continuation)
        watcher.start()
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                continuation.yield(.tick)
            }
        }
        defer {
            ticker.cancel()
            watcher.stop()
            signals.wake()
        }

        let session = ConsoleSession(store: store, actions: actions, configuration: configuration, theme: theme, width: terminal.width, height: terminal.height)
        var redrawPending = false
        session.changed = {
            guard !redrawPending else { return }
            redrawPending = true
            continuation.yield(.redraw)
        }
        terminal.draw(session.render(), theme: session.theme)
        await session.start()
        terminal.draw(session.render(), theme: session.theme)

        for await event in events {
            switch event {
            case .input:
                while !session.exitRequested, let input = terminal.read() {
                    switch input {
                    case .key(.control("l")): terminal.invalidate()
                    case .key(let key): await session.handle(key)
                    case .resize: await session.resize(width: terminal.width, height: terminal.height)
                    }
                }
                watcher.acknowledge()
            case .signals:
                let received = signals.drain()
                watcher.acknowledge()
                if let stop = received.compactMap(ConsoleExit.init(signal:)).first { return stop }
                if received.contains(SIGWINCH) {
                    terminal.adoptNewSize()
                    await session.resize(width: terminal.width, height: terminal.height)
                }
            case .tick:
                await session.tick()
            case .redraw:
                redrawPending = false
            case .hangup:
                return .hangup
            }
            if session.exitRequested { return .quit }
            for handoff in session.takeHandoffs() {
                switch handoff {
                case .clipboard(let sequence): terminal.send(sequence)
                case .pager(let path):
                    if let failure = terminal.suspended({ HandoffFiles.runPager(on: path) }) { session.flash(failure, .failure) }
                }
            }
            terminal.draw(session.render(), theme: session.theme)
        }
        return .quit
    }
}

/// How the console ended, and the exit status the process should give.
public enum ConsoleExit: Sendable, Hashable {
    /// `q` or `:q`.
    case quit
    /// Ctrl-C (SIGINT).
    case interrupted
    /// SIGTERM.
    case terminated
    /// The terminal went away (SIGHUP, or its input closed).
    case hangup

    init?(signal: Int32) {
        switch signal {
        case SIGINT: self = .interrupted
        case SIGTERM: self = .terminated
        case SIGHUP: self = .hangup
        default: return nil
        }
    }

    /// 0, or 128 plus the signal's number, as shells expect.
    public var code: Int32 {
        switch self {
        case .quit: 0
        case .interrupted: 128 + SIGINT
        case .terminated: 128 + SIGTERM
        case .hangup: 128 + SIGHUP
        }
    }
}
