import FHIRClient
import Foundation
import SalesforceClient
import StagelinkEngine
import StagelinkPostgres
import StagelinkStore

/// The checks that need no other system: the configuration file, its key files and endpoints,
/// the mapping, and the store.
enum LocalChecks {
    /// The key and secret files the configuration names, with the key that names each.
    static func keyFiles(_ configuration: StagelinkConfiguration) -> [(key: String, path: String)] {
        var files: [(String, String)] = []
        switch configuration.salesforce?.authentication {
        case .jwtBearer(_, _, let file)?: files.append(("salesforce.auth.privateKeyFile", file))
        case .clientCredentials(_, let file)?: files.append(("salesforce.auth.consumerSecretFile", file))
        case nil: break
        }
        if let emr = configuration.emr { files.append(("emr.privateKeyFile", emr.privateKeyFile)) }
        return files
    }

    static func configuration(_ configuration: StagelinkConfiguration) -> [Check] {
        var checks = [Check.passed(.configuration, "keys", "\(configuration.file): every key known and every value in range")]
        for (key, path) in keyFiles(configuration) {
            checks.append(keyFile(key, path))
        }
        var endpoints: [(String, URL)] = []
        if let salesforce = configuration.salesforce { endpoints.append(("salesforce.loginURL", salesforce.loginURL)) }
        if let emr = configuration.emr {
            endpoints.append(("emr.baseURL", emr.baseURL))
            if let jwks = emr.jwksURL { endpoints.append(("emr.jwksURL", jwks)) }
        }
        // The loader refused any other http:// already (EndpointURL.validated): what is left is
        // https, verified against the system's trust store, or plain http to this host.
        let plain = endpoints.filter { $0.1.scheme == "http" }.map(\.0)
        if !endpoints.isEmpty {
            let detail =
                plain.isEmpty
                ? "every endpoint is https, its certificate verified against the system's trust store"
                : plain.count == endpoints.count
                    ? "plain http to this host only (\(plain.joined(separator: ", "))); any other host needs https"
                    : "https with verified certificates, and plain http to this host only (\(plain.joined(separator: ", ")))"
            checks.append(.passed(.configuration, "endpoints", detail))
        }
        for (section, missing) in [("salesforce", configuration.salesforce == nil), ("emr", configuration.emr == nil)] where missing {
            checks.append(
                Check(
                    .configuration, section, .warning, "no \(section): section, so nothing syncs with it",
                    fix: "Add the \(section): section (docs/configuration.md)."))
        }
        return checks
    }

    static func keyFile(_ key: String, _ path: String) -> Check {
        guard FileManager.default.isReadableFile(atPath: path) else {
            return Check(
                .configuration, key, .failed, "\(path) does not exist or cannot be read by this user",
                fix: "Put the file there, readable by the user the service runs as, or correct \(key).")
        }
        if let mode = StagelinkConfiguration.wideMode(of: path) {
            return Check(
                .configuration, key, .warning, "\(path) may be read by its group or others (mode \(mode))", fix: "Run chmod 600 \(path).")
        }
        return .passed(.configuration, key, "\(path) is readable by its owner only")
    }

    static func mapping(_ mapping: MappingDocument) -> Check {
        let objects = Set(mapping.inbound.map(\.object) + [mapping.outbound.admissions?.object].compactMap { $0 })
        return .passed(
            .configuration, "mapping",
            "\(mapping.file): \(mapping.inbound.count) inbound mappings onto \(objects.sorted().joined(separator: ", "))"
                + (mapping.outbound.admissions == nil ? "" : ", outbound admissions"))
    }

    /// Free space below which the store's folder is a warning, and a failure.
    static let lowDiskSpace: Int64 = 1 << 30
    static let criticalDiskSpace: Int64 = 100 << 20

    /// A PostgreSQL store: how it is reached (the server itself is reached when a command opens it,
    /// and migrated then).
    static func server(_ location: Result<PostgresLocation, PostgresLocationError>) -> Check {
        do {
            let location = try location.get()
            let tls = switch location.tls {
            case .verifyFull: "TLS with the server's certificate and host name verified"
            case .disable: "without TLS (loopback only)"
            }
            return .passed(.store, "server", "PostgreSQL at \(location), schema \(location.schema), \(tls)")
        } catch {
            return Check(.store, "server", .failed, "\(error)", fix: "Write it as postgres://user@host:5432/database?sslmode=verify-full (docs/configuration.md).")
        }
    }

    /// Whether the store can be written, its schema is this build's, and its disk has room.
    static func store(_ path: String) -> [Check] {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var checks: [Check] = []
        let manager = FileManager.default
        if manager.fileExists(atPath: path) {
            // SQLite writes its -wal and -shm files beside the store: the folder must be writable too.
            if !manager.isWritableFile(atPath: path) || !manager.isWritableFile(atPath: folder) {
                checks.append(
                    Check(
                        .store, "writable", .failed, "\(path) or its folder cannot be written by this user",
                        fix: "Give the user the service runs as the store and its folder (chown), mode 0600 for the file."))
            } else if let mode = StagelinkConfiguration.wideMode(of: path) {
                checks.append(
                    Check(.store, "writable", .warning, "\(path) may be read by its group or others (mode \(mode))", fix: "Run chmod 600 \(path)."))
            } else {
                checks.append(.passed(.store, "writable", "\(path) is writable and readable by its owner only"))
            }
            do {
                let version = try SQLiteStore.schemaVersion(at: path)
                if version.newer {
                    checks.append(
                        Check(
                            .store, "migrations", .failed, "written by a newer Stagelink (schema \(version.stored), this build knows \(version.current))",
                            fix: "Run the Stagelink release that wrote this store, or a newer one."))
                } else if version.stored < version.current {
                    checks.append(
                        Check(
                            .store, "migrations", .warning, "schema \(version.stored), this build's is \(version.current): the next run migrates it",
                            fix: "Back the store up, then let `stagelink run` or `stagelink sync` migrate it."))
                } else {
                    checks.append(.passed(.store, "migrations", "schema \(version.current), current"))
                }
            } catch {
                checks.append(
                    Check(.store, "migrations", .failed, "cannot be read: \(error)", fix: "Restore the store from its last backup."))
            }
        } else if manager.isWritableFile(atPath: folder) {
            checks.append(.passed(.store, "writable", "\(path) does not exist yet; the first sync creates it in a writable folder"))
        } else {
            checks.append(
                Check(
                    .store, "writable", .failed, "\(path) does not exist and its folder \(folder) cannot be written",
                    fix: "Create \(folder), owned by the user the service runs as."))
        }
        if let free = (try? manager.attributesOfFileSystem(forPath: manager.fileExists(atPath: folder) ? folder : "/"))?[.systemFreeSize] as? NSNumber {
            let bytes = free.int64Value
            let text = bytes >= 1 << 30 ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) : "\(bytes >> 20) MiB"
            if bytes < criticalDiskSpace {
                checks.append(
                    Check(.store, "disk space", .failed, "\(text) free beside the store", fix: "Free space on that disk or move the store to a larger one."))
            } else if bytes < lowDiskSpace {
                checks.append(
                    Check(.store, "disk space", .warning, "\(text) free beside the store", fix: "Free space on that disk, or set retention.payloads."))
            } else {
                checks.append(.passed(.store, "disk space", "\(text) free beside the store"))
            }
        }
        return checks
    }
}
