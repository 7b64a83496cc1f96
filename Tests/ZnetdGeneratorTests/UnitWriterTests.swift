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

@Test func generatorMainLeavesOutABrokenFileOnly() throws {
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-bad-\(getpid())").path
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: root + "/conf.d", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "services:\n  web:\n    listen: \":8080\"\n    target: \"127.0.0.1:9090\"\n"
        .write(toFile: root + "/znetd.yaml", atomically: true, encoding: .utf8)
    try "services:\n  api:\n    listen: nowhere\n    target: \"127.0.0.1:9091\"\n"
        .write(toFile: root + "/conf.d/api.yaml", atomically: true, encoding: .utf8)
    // Valid on its own, but it takes web's port: the merge blames it, not znetd.yaml.
    try "services:\n  db:\n    listen: \":8080\"\n    target: \"127.0.0.1:5432\"\n"
        .write(toFile: root + "/conf.d/db.yaml", atomically: true, encoding: .utf8)

    var lines: [String] = []
    #expect(runGenerator(arguments: [root + "/out"], directories: [root]) { lines.append($0) } == 1)
    #expect(lines == [
        "\(root)/conf.d/api.yaml: has errors; its services are left out",
        "\(root)/conf.d/api.yaml:3:13: services.api.listen: expected HOST:PORT, [IPV6]:PORT, :PORT, unix:/PATH or interface:NAME:PORT; found 'nowhere'",
        "\(root)/conf.d/db.yaml: has errors; its services are left out",
        "\(root)/conf.d/db.yaml:3:13: services.db.listen: listen address ':8080' conflicts with ':8080' of service 'web' at \(root)/znetd.yaml:3:13",
    ])
    let names = try FileManager.default.contentsOfDirectory(atPath: root + "/out").sorted()
    #expect(names == ["sockets.target.wants", "znetd-web.service", "znetd-web.socket"])
}

@Test func generatorMainWritesNothingForABrokenMainFile() throws {
    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("znetd-generator-badmain-\(getpid())").path
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    try "services:\n  web:\n    listen: nowhere\n".write(toFile: root + "/znetd.yaml", atomically: true, encoding: .utf8)

    var lines: [String] = []
    #expect(runGenerator(arguments: [root + "/out"], directories: [root]) { lines.append($0) } == 1)
    #expect(lines.first == "\(root)/znetd.yaml: has errors; its services are left out")
    #expect(lines.count >= 3)
    #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/out").isEmpty)
}
