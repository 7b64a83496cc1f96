import Foundation
import Testing
import ZnetdConfig
import ZnetdGenerator

@Test func writesUnitsAndWantsSymlinks() throws {
    let configuration = try ConfigLoader.parse(yaml: """
        services:
          web:
            listen: ":8080"
            target: "127.0.0.1:9090"
        """, file: "/etc/znetd/znetd.yaml")
    let units = generateUnits(configuration)
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-write-\(getpid())").path
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }

    try writeUnits(units, to: directory)
    try writeUnits(units, to: directory)  // again: generators run on every daemon-reload

    for unit in units {
        #expect(try String(contentsOfFile: directory + "/" + unit.name, encoding: .utf8) == unit.text)
    }
    #expect(try FileManager.default.destinationOfSymbolicLink(
        atPath: directory + "/sockets.target.wants/znetd-web.socket") == "../znetd-web.socket")
    #expect(!FileManager.default.fileExists(atPath: directory + "/sockets.target.wants/znetd-web.service"))
}

@Test func generatorMainWritesTheGoldenUnits() throws {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("golden/01-plain").path
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-main-\(getpid())").path
    try? FileManager.default.removeItem(atPath: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }

    var lines: [String] = []
    let status = runGenerator(arguments: [directory, directory, directory],
                              directories: [golden + "/input/etc/znetd"]) { lines.append($0) }
    #expect(status == 0)
    #expect(lines.isEmpty)
    let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    #expect(names == ["sockets.target.wants", "znetd-web.service", "znetd-web.socket"])
    let service = try String(contentsOfFile: directory + "/znetd-web.service", encoding: .utf8)
    #expect(service.contains("--config \(golden)/input/etc/znetd --service web"))
}

@Test func generatorMainWritesNothingForABadConfiguration() throws {
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-bad-\(getpid())").path
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "services:\n  web:\n    listen: nowhere\n".write(toFile: root + "/znetd.yaml", atomically: true, encoding: .utf8)

    var lines: [String] = []
    #expect(runGenerator(arguments: [root + "/out"], directories: [root]) { lines.append($0) } == 1)
    #expect(lines.last == "configuration has errors; no units written")
    #expect(lines.count >= 2)
    #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out").isEmpty)
}
