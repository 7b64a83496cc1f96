import Foundation
import Testing
import ZnetdConfig
import ZnetdGenerator

/// Golden cases, as zram-generator tests its generator: `golden/NN-name/input/` is a root
/// directory with configuration under `etc/znetd/`, `run/znetd/` and `usr/lib/znetd/`, `golden/NN-name/expected/` the exact units it must give. An optional
/// `golden/NN-name/options` holds generator options, one `key=value` a line (`mode=shared`).
///
/// `ZNETD_UPDATE_GOLDEN=1 swift test --filter ZnetdGeneratorTests` rewrites the expected trees
/// (review the diff before committing).
private let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("golden").path

private func goldenCases() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: goldenDirectory)) ?? [])
        .filter { !$0.hasPrefix(".") }
        .sorted()
}

/// Loads a case's configuration and generates its units. The file names in the units are those
/// of the tree under `input/`, as if it were the root directory.
private func generate(case name: String, znetdPath: String = "/usr/bin/znetd") throws -> [GeneratedUnit] {
    let caseDirectory = goldenDirectory + "/" + name
    let inputRoot = caseDirectory + "/input"
    let files = ConfigLoader.defaultFiles(directories: ConfigLoader.searchDirectories.map { inputRoot + $0 })
    let configuration = try ConfigLoader.load(files: files)
    var options = GeneratorOptions(
        znetdPath: znetdPath,
        sourceFiles: files.map { String($0.dropFirst(inputRoot.count)) })
    if let text = try? String(contentsOfFile: caseDirectory + "/options", encoding: .utf8) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            switch line {
            case "mode=shared": options.mode = .shared
            case "mode=per-service": options.mode = .perService
            default: Issue.record("\(name)/options: unknown line '\(line)'")
            }
        }
    }
    // Services know the absolute file they came from: show it as the installed path.
    return generateUnits(configuration, options: options).map { unit in
        var unit = unit
        unit.text = unit.text.replacingOccurrences(of: inputRoot, with: "")
        return unit
    }
}

/// A line-by-line diff, good enough to see what changed.
private func diff(expected: String, actual: String) -> String {
    let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let b = actual.split(separator: "\n", omittingEmptySubsequences: false)
    var out: [String] = []
    for index in 0..<max(a.count, b.count) {
        let left = index < a.count ? String(a[index]) : nil
        let right = index < b.count ? String(b[index]) : nil
        if left == right {
            out.append("  " + (left ?? ""))
        } else {
            if let left { out.append("- " + left) }
            if let right { out.append("+ " + right) }
        }
    }
    return out.joined(separator: "\n")
}

@Test func goldenCasesExist() {
    #expect(goldenCases().count >= 6)
}

@Test(arguments: goldenCases())
func goldenCase(_ name: String) throws {
    let units = try generate(case: name)
    let expectedDirectory = goldenDirectory + "/" + name + "/expected"
    let manager = FileManager.default

    if ProcessInfo.processInfo.environment["ZNETD_UPDATE_GOLDEN"] == "1" {
        try? manager.removeItem(atPath: expectedDirectory)
        try manager.createDirectory(atPath: expectedDirectory, withIntermediateDirectories: true)
        for unit in units {
            try unit.text.write(toFile: expectedDirectory + "/" + unit.name, atomically: true, encoding: .utf8)
        }
        return
    }

    let expectedNames = ((try? manager.contentsOfDirectory(atPath: expectedDirectory)) ?? [])
        .filter { !$0.hasPrefix(".") }.sorted()
    #expect(units.map(\.name) == expectedNames, "\(name): unit file names")
    for unit in units where expectedNames.contains(unit.name) {
        let expected = try String(contentsOfFile: expectedDirectory + "/" + unit.name, encoding: .utf8)
        if unit.text != expected {
            Issue.record("\(name)/expected/\(unit.name) differs:\n\(diff(expected: expected, actual: unit.text))")
        }
    }
}

@Test func generationIsDeterministic() throws {
    for name in goldenCases() {
        #expect(try generate(case: name) == generate(case: name))
    }
}

/// Every unit the golden cases give passes `systemd-analyze verify`, with ExecStart= pointed at
/// a binary that exists.
@Test(arguments: goldenCases())
func unitsPassSystemdAnalyzeVerify(_ name: String) throws {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let analyze else {
        print("skipped: systemd-analyze not found")
        return
    }
    let units = try generate(case: name, znetdPath: "/bin/true")
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-verify-\(getpid())-\(name)").path
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for unit in units {
        try unit.text.write(toFile: directory + "/" + unit.name, atomically: true, encoding: .utf8)
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: analyze)
    process.arguments = ["verify", "--man=no"] + units.map { directory + "/" + $0.name }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "\(name): systemd-analyze verify failed:\n\(text)")
    // Warnings about the units themselves fail too (not those about the host's other units).
    let ours = text.split(separator: "\n").filter { $0.contains(directory) }
    #expect(ours.isEmpty, "\(name): systemd-analyze verify:\n\(ours.joined(separator: "\n"))")
}
