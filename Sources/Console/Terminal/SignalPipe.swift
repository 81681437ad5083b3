import Glibc
import Synchronization

/// Where the signal handlers write: the write end of the signal pipe. A handler can only do
/// async-signal-safe things, and `write` on a pipe is one of them.
private let signalWriteDescriptor = Atomic<Int32>(-1)

/// Turns signals into bytes on a pipe, so that the input loop sees SIGINT, SIGTERM, SIGHUP and
/// SIGWINCH next to the keyboard and handles each in order: the terminal is restored on the way
/// out, and a resize is drawn at once.
///
/// Installed before ncurses starts, so that ncurses (which only installs its own handlers over
/// the default ones) leaves them alone.
final class SignalPipe: Sendable {
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGWINCH]

    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init() throws(TerminalError) {
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { throw TerminalError("cannot create the signal pipe: \(String(cString: strerror(errno)))") }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
        for descriptor in descriptors { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        signalWriteDescriptor.store(writeDescriptor, ordering: .sequentiallyConsistent)
        for signal in Self.handled {
            _ = Glibc.signal(signal) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalWriteDescriptor.load(ordering: .sequentiallyConsistent), &byte, 1)
            }
        }
    }

    /// Puts the default handlers back and closes the pipe.
    func restore() {
        for signal in Self.handled { _ = Glibc.signal(signal, SIG_DFL) }
        signalWriteDescriptor.store(-1, ordering: .sequentiallyConsistent)
        close(readDescriptor)
        close(writeDescriptor)
    }

    /// Wakes the input thread (to stop it): a zero byte is no signal.
    func wake() {
        var byte: UInt8 = 0
        _ = write(writeDescriptor, &byte, 1)
    }

    /// The signals written since the last call.
    func drain() -> [Int32] {
        var buffer = [UInt8](repeating: 0, count: 64)
        var signals: [Int32] = []
        while true {
            let count = read(readDescriptor, &buffer, buffer.count)
            guard count > 0 else { break }
            signals += buffer.prefix(count).map { Int32($0) }
        }
        return signals
    }
}

/// The terminal cannot be used: an unknown `TERM`, no UTF-8 locale, a pipe instead of a tty.
public struct TerminalError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
