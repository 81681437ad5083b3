import Dispatch
import Foundation
import Synchronization

/// What wakes the console's loop.
enum LoopEvent: Sendable {
    /// Keys are waiting on the terminal.
    case input
    /// Signals were written to the signal pipe.
    case signals
    /// Time passed: spinners turn, the store is polled.
    case tick
    /// Something changed that should be drawn.
    case redraw
    /// The terminal went away.
    case hangup
}

/// Waits on a thread of its own for the keyboard and the signal pipe, so that the main actor is
/// never blocked reading keys and results from the store are drawn the moment they arrive.
///
/// After reporting that something is readable it waits until the loop has read it, so that one
/// key press is one event.
final class InputWatcher: Sendable {
    private let input: Int32
    private let signals: Int32
    private let events: AsyncStream<LoopEvent>.Continuation
    private let handled = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)

    init(input: Int32, signals: Int32, events: AsyncStream<LoopEvent>.Continuation) {
        self.input = input
        self.signals = signals
        self.events = events
    }

    func start() {
        let thread = Thread { [self] in watch() }
        thread.name = "stagelink.console.input"
        thread.start()
    }

    /// The loop has read what was reported: watch again.
    func acknowledge() { handled.signal() }

    /// Ends the thread (the caller also wakes it through the signal pipe).
    func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        handled.signal()
    }

    private func watch() {
        var descriptors = [pollfd(fd: input, events: Int16(POLLIN), revents: 0), pollfd(fd: signals, events: Int16(POLLIN), revents: 0)]
        while !stopped.load(ordering: .sequentiallyConsistent) {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            guard poll(&descriptors, 2, -1) >= 0 else {
                if errno == EINTR { continue }
                events.yield(.hangup)
                return
            }
            if stopped.load(ordering: .sequentiallyConsistent) { return }
            if descriptors[1].revents & Int16(POLLIN) != 0 {
                events.yield(.signals)
                handled.wait()
            } else if descriptors[0].revents & Int16(POLLIN) != 0 {
                events.yield(.input)
                handled.wait()
            } else if descriptors[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                events.yield(.hangup)
                return
            }
        }
    }
}
