// swift-tools-version: 6.1
import PackageDescription

/// Stagelink: bidirectional sync between Salesforce and a FHIR R4 EMR.
///
/// The folder list is the architecture. `StagelinkEngine` is the domain and knows no SQL, HTTP or
/// terminal; everything else depends on it, never the other way round.
let package = Package(
    name: "Stagelink",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stagelink", targets: ["stagelink"]),
        .library(name: "StagelinkEngine", targets: ["StagelinkEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit", exact: "5.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
    ],
    targets: [
        // The domain: staged rows, links, jobs, mapping, policy, conflicts, the linker.
        .target(
            name: "StagelinkEngine",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The SQLite store (GRDB) behind the engine's `SyncStore` protocol.
        .target(
            name: "StagelinkStore",
            dependencies: [
                "StagelinkEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                "CSQLiteSettings",
            ]
        ),
        // The PostgreSQL store (postgres-nio) behind the same store roles, for several hosts sharing one store.
        .target(
            name: "StagelinkPostgres",
            dependencies: [
                "StagelinkEngine",
                // The row codecs the two stores share (StoredValue, the error columns), not SQLite itself.
                "StagelinkStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // sqlite3's process-wide settings, which Swift cannot reach by itself (sqlite3_config is variadic).
        .systemLibrary(
            name: "CSQLiteSettings",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The Salesforce REST and FHIR R4 simulators that the demo, the tests and the benchmarks run against.
        .target(
            name: "Sandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP transport both clients share: deadlines, retries, bearer tokens, JWT assertions, logging.
        .target(
            name: "StagelinkHTTP",
            dependencies: [
                "StagelinkEngine",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Salesforce REST client: delta pulls by SOQL, sObject Collections upserts, API limits.
        .target(
            name: "SalesforceClient",
            dependencies: [
                "StagelinkEngine",
                "StagelinkHTTP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The FHIR R4 client: SMART Backend Services, delta search, conditional create, versioned update.
        .target(
            name: "FHIRClient",
            dependencies: [
                "StagelinkEngine",
                "StagelinkHTTP",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // ncursesw, the wide-character curses library, with the shims Swift needs to call it.
        .systemLibrary(
            name: "CNcursesw",
            providers: [.apt(["libncursesw5-dev"])]
        ),
        // The operations console: views computed into a screen model; one small layer talks to ncurses.
        .target(
            name: "Console",
            dependencies: ["StagelinkEngine", "StagelinkDefaults", "CNcursesw"]
        ),
        // `stagelink bench`: every performance figure the issues name, beside its reference.
        .target(
            name: "StagelinkBenchmarks",
            dependencies: [
                "StagelinkEngine", "StagelinkStore", "StagelinkHTTP", "SalesforceClient", "FHIRClient", "Sandbox", "Console", "StagelinkFakes", "StagelinkPostgres",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The default mapping and the themes, embedded in the binary (files on disk override them).
        .target(
            name: "StagelinkDefaults",
            resources: [
                .embedInCode("mapping.yaml"), .embedInCode("theme-dark.yaml"), .embedInCode("theme-light.yaml"),
                .embedInCode("theme-high-contrast.yaml"), .embedInCode("theme-monochrome.yaml"),
            ]
        ),
        // Operations without a terminal: /metrics (swift-metrics → Prometheus), health endpoints, alerts to webhooks.
        .target(
            name: "StagelinkOperations",
            dependencies: [
                "StagelinkEngine",
                "StagelinkHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command line and service: wires the engine to the store, clients, sandbox and console.
        .executableTarget(
            name: "stagelink",
            dependencies: [
                "StagelinkEngine",
                "StagelinkStore",
                "StagelinkPostgres",
                "StagelinkBenchmarks",
                "Sandbox",
                "SalesforceClient",
                "FHIRClient",
                "StagelinkHTTP",
                "Console",
                "StagelinkOperations",
                "StagelinkDefaults",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "stagelinkTests",
            dependencies: [
                "stagelink", "StagelinkEngine", "StagelinkStore", "Sandbox", "SalesforceClient", "StagelinkTestSupport", "StagelinkBenchmarks", "StagelinkFakes", "StagelinkPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "StagelinkEngineTests", dependencies: ["StagelinkEngine", "StagelinkStore", "StagelinkFakes"]),
        .testTarget(name: "StagelinkStoreTests", dependencies: ["StagelinkStore", "StagelinkPostgres", "StagelinkEngine"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "StagelinkEngine", "StagelinkStore", "StagelinkBenchmarks", "StagelinkFakes", "CNcursesw"]),
        .testTarget(
            name: "SandboxTests",
            dependencies: [
                "Sandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // In-memory fakes of the other systems (an upsert target, a FHIR resource writer) for the engine's
        // tests and the benchmarks: kept out of the engine library (only the tests and `stagelink bench` link them).
        .target(name: "StagelinkFakes", dependencies: ["StagelinkEngine"], path: "Tests/StagelinkFakes"),
        // What the client tests share: a scripted loopback HTTP server and an in-memory log handler.
        .target(
            name: "StagelinkTestSupport",
            dependencies: ["Sandbox", "SalesforceClient", "FHIRClient", "StagelinkHTTP", .product(name: "Logging", package: "swift-log")],
            path: "Tests/StagelinkTestSupport"
        ),
        .testTarget(
            name: "StagelinkHTTPTests",
            dependencies: [
                "StagelinkHTTP",
                "StagelinkEngine",
                "StagelinkTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "StagelinkBenchmarksTests", dependencies: ["StagelinkBenchmarks"]),
        .testTarget(
            name: "StagelinkOperationsTests",
            dependencies: [
                "StagelinkOperations", "StagelinkEngine", "StagelinkStore", "StagelinkHTTP", "Sandbox", "StagelinkTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The sync service end to end: engine, store and real clients against the sandbox.
        .testTarget(
            name: "SyncEndToEndTests",
            dependencies: [
                "StagelinkEngine", "StagelinkStore", "SalesforceClient", "FHIRClient", "Sandbox", "StagelinkTestSupport", "StagelinkOperations",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SalesforceClientTests",
            dependencies: [
                "SalesforceClient", "StagelinkHTTP", "StagelinkEngine", "StagelinkTestSupport", "Sandbox",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "FHIRClientTests",
            dependencies: [
                "FHIRClient", "SalesforceClient", "StagelinkHTTP", "StagelinkEngine", "StagelinkTestSupport", "Sandbox",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
