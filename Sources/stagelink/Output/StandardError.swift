import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Points the process's standard error at a file for a while (the console owns the screen), and
/// back again.
enum StandardError {
    /// Returns a descriptor of the original standard error to restore, or nil if the file could
    /// not be opened (then nothing changed).
    static func redirect(to path: String) -> Int32? {
        let file = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard file >= 0 else { return nil }
        defer { close(file) }
        let saved = dup(STDERR_FILENO)
        guard saved >= 0, dup2(file, STDERR_FILENO) >= 0 else { return nil }
        return saved
    }

    static func restore(_ saved: Int32?) {
        guard let saved else { return }
        dup2(saved, STDERR_FILENO)
        close(saved)
    }
}
