// swift-tools-version:6.0
import PackageDescription

// This manifest's directory: linker flags need absolute paths.
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))

// The same strictness on every Swift target (as swift-log does).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// How the daemon is linked in release builds, each measured by bench/footprint (stripped size):
// - lld instead of gold, for the next flag (gold cannot pack relocations);
// - `-z pack-relative-relocs`: DT_RELR (glibc >= 2.36, Debian 12) stores the ~59,000 relative
//   relocations of a position-independent static-stdlib binary in 8 KB instead of 950 KB;
// - `--no-export-dynamic`: swiftc exports every symbol of an executable for dladdr(); znetd
//   needs none in its dynamic symbol table, and unexported code can be garbage-collected;
// - identical code folding: the static Swift runtime and Foundation hold many byte-identical
//   functions (value witnesses, outlined copies).
// Together 15.97 -> 14.70 MB, at no cost at run time.
let daemonLinkerFlags = [
    "-use-ld=lld",
    "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
    "-Xlinker", "--no-export-dynamic",
    "-Xlinker", "--icf=all",
]

let package = Package(
    name: "znetd",
    products: [
        .executable(name: "znetd", targets: ["znetd"]),
        .executable(name: "znetd-generator", targets: ["znetd-generator"]),
        .library(name: "ZnetdCore", targets: ["ZnetdCore"]),
        .library(name: "ZnetdConfig", targets: ["ZnetdConfig"]),
        .library(name: "ZnetdGenerator", targets: ["ZnetdGenerator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // libsystemd: sd-daemon, sd-journal, sd-bus, sd-event.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // libyaml: the event parser gives every scalar a line and column.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // OpenSSL's headers (libssl-dev) for TLS termination on shared HTTP listeners. Headers
        // only: libssl itself is loaded with dlopen when a TLS listener is configured.
        .systemLibrary(name: "CZnetdTLS"),
        // Thin wrappers for Linux calls and constants Glibc does not export to Swift.
        .target(name: "CZnetdLinux"),
        // The configuration: schema, YAML decoding, validation. Pure; no sockets.
        .target(
            name: "ZnetdConfig",
            dependencies: ["CYAML"],
            // Read once per start and reload, never on a connection's path: optimised for size,
            // which keeps the static binary within its budget (bench/footprint).
            swiftSettings: swiftSettings + [.unsafeFlags(["-Osize"], .when(configuration: .release))]
        ),
        // systemd units from a configuration (znetd-generator). Pure; no files. Optimised for
        // size: the daemon links it too (`znetd generate`), and -O made the generator only 1%
        // faster (1% fewer instructions, callgrind on bench/generator) for 7 KB more in each binary.
        .target(
            name: "ZnetdGenerator",
            dependencies: ["ZnetdConfig"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-Osize"], .when(configuration: .release))]
        ),
        // Everything that runs: systemd protocols, the data plane, the daemon. Optimised for
        // size too: 89-98% of znetd's CPU is in the kernel (BENCHMARKS.md), and an A/B on this
        // machine showed -Osize and -O within noise on bulk, keep-alive and new-connection
        // CPU, for 135 KB less binary (bench/footprint).
        .target(
            name: "ZnetdCore",
            dependencies: [
                "CSystemd", "CZnetdLinux", "ZnetdConfig", "ZnetdHTTP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings + [.unsafeFlags(["-Osize"], .when(configuration: .release))]
        ),
        // Shared HTTP listeners (issue 8): HTTP/1.x parsing,
        // framing, host/path routing, the proxy session, and TLS termination with OpenSSL. A
        // target of its own so that the daemon links libssl only once it serves TLS: loading
        // libssl and libcrypto costs ~0.5 MB of private memory per process.
        .target(
            name: "ZnetdHTTP",
            dependencies: ["CZnetdTLS"],
            // Optimised for size like ZnetdCore: HTTP parsing is a small share of a request's
            // CPU next to the system calls, and the binary has a budget (bench/footprint).
            swiftSettings: swiftSettings + [.unsafeFlags(["-Osize"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "znetd",
            dependencies: [
                "ZnetdCore",
                "ZnetdGenerator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: [.unsafeFlags(daemonLinkerFlags, .when(configuration: .release))]
        ),
        // The systemd generator: /etc/znetd to units, at boot and on daemon-reload, so its
        // start-up counts (bench/generator/run). Not linked fully statically: that would embed a
        // copy of Debian's libyaml. But libstdc++ comes from GCC's static archive (see
        // link/libstdc++.so): loading libstdc++.so.6 cost more than the generator's own merge.
        // And lld packs its relative relocations (DT_RELR, glibc 2.36): a PIE with the Swift
        // runtime inside has ~19,000 of them, 450 KB of RELA entries read at every start.
        .executableTarget(
            name: "znetd-generator",
            dependencies: ["ZnetdGenerator"],
            exclude: ["link"],
            swiftSettings: swiftSettings,
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-L", packageDirectory + "/Sources/znetd-generator/link",
                        "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                    ],
                    .when(configuration: .release))
            ]
        ),
        // Test-only: runs SystemdUnits operations against a real systemd (Tests/System).
        .executableTarget(
            name: "znetd-bus-probe",
            dependencies: ["ZnetdCore", "ZnetdConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZnetdConfigTests",
            dependencies: ["ZnetdConfig"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZnetdGeneratorTests",
            dependencies: ["ZnetdGenerator", "ZnetdConfig"],
            exclude: ["golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZnetdCoreTests",
            dependencies: ["ZnetdCore", "ZnetdHTTP"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZnetdHTTPTests",
            dependencies: ["ZnetdHTTP", "CZnetdLinux"],
            swiftSettings: swiftSettings
        ),
    ]
)
