import Glibc

/// The terminal's settings before curses changed them, for the crash handlers: a handler can
/// only restore what was saved before it ran. Written once before the handlers are installed.
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var savedDescriptor: Int32 = -1

/// Gives the terminal back even when the process dies of a trap or a fault (a failed
/// precondition is SIGTRAP or SIGILL in Swift): the saved settings are put back, the screen
/// leaves curses' alternate buffer, the cursor shows again, and the signal then does what it
/// would have done. Everything the handler calls is async-signal-safe.
enum CrashRescue {
    static let signals: [Int32] = [SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE]

    static func install(terminal descriptor: Int32) {
        guard tcgetattr(descriptor, &savedSettings) == 0 else { return }
        savedDescriptor = descriptor
        for signal in signals {
            _ = Glibc.signal(signal) { number in
                if savedDescriptor >= 0 {
                    _ = tcsetattr(savedDescriptor, TCSANOW, &savedSettings)
                    // Keypad mode off, attributes off, cursor on, main screen back.
                    let reset: StaticString = "\u{1b}[?1l\u{1b}>\u{1b}[0m\u{1b}[?25h\u{1b}[?1049l\r\n"
                    _ = write(STDOUT_FILENO, reset.utf8Start, reset.utf8CodeUnitCount)
                }
                _ = Glibc.signal(number, SIG_DFL)
                _ = raise(number)
            }
        }
    }

    static func remove() {
        for signal in signals { _ = Glibc.signal(signal, SIG_DFL) }
        savedDescriptor = -1
    }
}
