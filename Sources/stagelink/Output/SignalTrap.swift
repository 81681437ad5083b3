import Dispatch
import Foundation
import StagelinkEngine

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a stop request, so that the current batch finishes and the job
/// is recorded as interrupted instead of the process dying mid-write. A second signal exits at once.
final class SignalTrap {
    let stop = StopSignal()
    private let sources: [any DispatchSourceSignal]

    /// `announce` tells that a stop was asked for (by default a line on standard error; the service
    /// logs it instead, so that JSON logs stay JSON).
    init(announce: @escaping @Sendable () -> Void = { FileHandle.standardError.write(Data("\nStopping after the current batch (signal again to quit now)…\n".utf8)) }) {
        let stop = stop
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stop.isRequested { exit(128 + number) }
                stop.request()
                announce()
            }
            source.resume()
            return source
        }
    }
}
