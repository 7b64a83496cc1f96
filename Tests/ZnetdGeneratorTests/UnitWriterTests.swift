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
