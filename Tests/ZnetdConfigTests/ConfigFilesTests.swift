import Foundation
import Testing
import ZnetdConfig

/// A fresh directory under the system's temporary directory, removed when released.
private final class TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("znetd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` to `name` (a path relative to this directory), creating directories; returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, bytes: Array(text.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    @discardableResult
    func makeDirectory(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path + "/" + name, withIntermediateDirectories: true)
        return path + "/" + name
    }
}

private func problems(loading files: [String]) -> [String] {
    do {
        _ = try ConfigLoader.load(files: files)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Test func mergesFilesInOrder() throws {
    let root = try TemporaryDirectory()
    try root.write("znetd.yaml", """
        threads: 2
        drain_timeout: 10s
        defaults:
          connect_timeout: 2s
          max_connections: 10
        services:
          main: {listen: ":80", target: "h:1"}
        """)
    try root.write("conf.d/10-a.yaml", """
        threads: 4
        defaults:
          max_connections: 20
        services:
          a: {listen: ":81", target: "h:2"}
        """)
    try root.write("conf.d/20-b.yaml", """
        pipe_size: 64KiB
        defaults:
          log_connections: true
        services:
          b: {listen: ":82", target: "h:3", max_connections: 5}
        """)
    let configuration = try ConfigLoader.load(files: ConfigLoader.defaultFiles(root: root.path))
    #expect(configuration.threads == 4)
    #expect(configuration.drainTimeout == .seconds(10))
    #expect(configuration.pipeSize == 65536)
    #expect(configuration.services.map(\.name) == ["a", "b", "main"])
    #expect(configuration.services.map(\.connectTimeout) == [.seconds(2), .seconds(2), .seconds(2)])
    #expect(configuration.services.map(\.maxConnections) == [20, 5, 20])
    #expect(configuration.services.map(\.logConnections) == [true, true, true])
    #expect(configuration.service(named: "b")?.location
        == SourceLocation(file: root.path + "/conf.d/20-b.yaml", line: 5, column: 3))
}

@Test func laterFileOverridesThreadsWithAuto() throws {
    let root = try TemporaryDirectory()
    let first = try root.write("a.yaml", "threads: 8\n")
    let second = try root.write("b.yaml", "threads: auto\n")
    #expect(try ConfigLoader.load(files: [first, second]).threads == nil)
    #expect(try ConfigLoader.load(files: [second, first]).threads == 8)
}

@Test func rejectsTheSameServiceInTwoFiles() throws {
    let root = try TemporaryDirectory()
    let first = try root.write("a.yaml", "services:\n  web: {listen: \":80\", target: \"h:1\"}\n")
    let second = try root.write("b.yaml", "threads: 2\nservices:\n  web: {listen: \":81\", target: \"h:1\"}\n")
    #expect(problems(loading: [first, second]) == [
        "\(second):3:3: services.web: service 'web' is already defined at \(first):2:3; define each service once"
    ])
}

@Test func rejectsTheSameListenAddressInTwoFiles() throws {
    let root = try TemporaryDirectory()
    let first = try root.write("a.yaml", "services:\n  a: {listen: \"127.0.0.1:80\", target: \"h:1\"}\n")
    let second = try root.write("b.yaml", "services:\n  b:\n    listen: \":80\"\n    target: \"h:1\"\n")
    #expect(problems(loading: [first, second]) == [
        "\(second):3:13: services.b.listen: listen address ':80' conflicts with '127.0.0.1:80' "
            + "of service 'a' at \(first):2:15"
    ])
}

@Test func reportsFilesThatCannotBeRead() throws {
    let root = try TemporaryDirectory()
    let directory = try root.makeDirectory("conf.d")
    #expect(problems(loading: [root.path + "/missing.yaml", directory]) == [
        "cannot read '\(root.path)/missing.yaml': No such file or directory",
        "cannot read '\(directory)': Is a directory",
    ])
}

@Test func refusesFilesLargerThan16MiB() throws {
    let root = try TemporaryDirectory()
    let file = try root.write("huge.yaml", bytes: [UInt8](repeating: UInt8(ascii: "#"), count: (16 << 20) + 1))
    #expect(problems(loading: [file]) == ["cannot read '\(file)': larger than 16 MiB"])
}

@Test func reportsInvalidUTF8() throws {
    let root = try TemporaryDirectory()
    let file = try root.write("bad.yaml", bytes: Array("threads: ".utf8) + [0xFF] + Array("\n".utf8))
    #expect(problems(loading: [file]) == ["\(file):1:1: invalid YAML: invalid leading UTF-8 octet at byte 9"])
}

@Test func collectsProblemsOfEveryFileInOrder() throws {
    let root = try TemporaryDirectory()
    let first = try root.write("a.yaml", """
        threads: 0
        services:
          a: {listen: ":80", target: "h:1"}
        drain_timeout: x
        """)
    let second = try root.write("b.yaml", """
        pipe_size: 1
        services:
          b: {listen: ":80", target: "h:1"}
        threads: -1
        """)
    let third = try root.write("c.yaml", "services: [\n")
    #expect(problems(loading: [first, root.path + "/missing.yaml", second, third]) == [
        "\(first):1:10: threads: expected auto or an integer from 1 to 256; found '0'",
        "\(first):4:16: drain_timeout: expected a duration such as 500ms, 10s or 5m; found 'x'",
        "cannot read '\(root.path)/missing.yaml': No such file or directory",
        "\(second):1:12: pipe_size: expected a size from 4KiB to 64MiB, such as 65536, 64KiB or 1MiB; found '1'",
        "\(second):3:15: services.b.listen: listen address ':80' conflicts with ':80' of service 'a' at \(first):3:15",
        "\(second):4:10: threads: expected auto or an integer from 1 to 256; found '-1'",
        "\(third):2:1: invalid YAML: did not find expected node content (while parsing a flow node at line 2, column 1)",
    ])
}

@Test func findsMainFileAndSortedDropIns() throws {
    let root = try TemporaryDirectory()
    for name in ["b.yaml", "a.yaml", "10-x.yaml", "9-y.yaml", "Z.yaml", ".hidden.yaml", "c.yml", "notes.txt"] {
        try root.write("conf.d/" + name, "")
    }
    try root.makeDirectory("conf.d/directory.yaml")
    try root.write("znetd.yaml", "")
    let confD = root.path + "/conf.d/"
    let expected = [root.path + "/znetd.yaml"] + ["10-x.yaml", "9-y.yaml", "Z.yaml", "a.yaml", "b.yaml"].map { confD + $0 }
    #expect(ConfigLoader.defaultFiles(root: root.path) == expected)
    #expect(ConfigLoader.defaultFiles(root: root.path + "/") == expected)
    #expect(ConfigLoader.files(forConfigArgument: root.path) == expected)
}

@Test func findsDropInsWithoutMainFile() throws {
    let root = try TemporaryDirectory()
    try root.write("conf.d/web.yaml", "")
    #expect(ConfigLoader.defaultFiles(root: root.path) == [root.path + "/conf.d/web.yaml"])
    #expect(ConfigLoader.defaultFiles(root: root.path + "/missing").isEmpty)
}

@Test func takesAnythingButADirectoryAsAFile() throws {
    let root = try TemporaryDirectory()
    let file = try root.write("proxy.yaml", "")
    #expect(ConfigLoader.files(forConfigArgument: file) == [file])
    #expect(ConfigLoader.files(forConfigArgument: root.path + "/missing.yaml") == [root.path + "/missing.yaml"])
}

@Test func searchPathPrefersEtcThenRunThenUsrLib() throws {
    let root = try TemporaryDirectory()
    let etc = root.path + "/etc/znetd", run = root.path + "/run/znetd", lib = root.path + "/usr/lib/znetd"
    _ = try root.write("usr/lib/znetd/znetd.yaml", "services: {}\n")
    try root.write("run/znetd/znetd.yaml", "services: {}\n")
    try root.write("usr/lib/znetd/conf.d/10-a.yaml", "services: {}\n")
    try root.write("run/znetd/conf.d/10-a.yaml", "services: {}\n")   // replaces lib's 10-a
    try root.write("etc/znetd/conf.d/20-b.yaml", "services: {}\n")
    try root.write("usr/lib/znetd/conf.d/30-c.yaml", "services: {}\n")
    try root.write("etc/znetd/conf.d/30-c.yaml", "")                   // empty: masks lib's 30-c
    try root.write("usr/lib/znetd/conf.d/40-d.yaml", "services: {}\n")
    try root.makeDirectory("run/znetd/conf.d")
    #expect(symlink("/dev/null", run + "/conf.d/40-d.yaml") == 0)        // /dev/null: masks too
    try root.write("usr/lib/znetd/conf.d/05-e.yaml", "services: {}\n")
    #expect(ConfigLoader.defaultFiles(directories: [etc, run, lib]) == [
        run + "/znetd.yaml", lib + "/conf.d/05-e.yaml", run + "/conf.d/10-a.yaml", etc + "/conf.d/20-b.yaml",
    ])
    // An empty /etc/znetd/znetd.yaml is the main file, and so masks the others.
    try root.write("etc/znetd/znetd.yaml", "")
    #expect(ConfigLoader.defaultFiles(directories: [etc, run, lib]).first == lib + "/conf.d/05-e.yaml")
    #expect(ConfigLoader.defaultFiles(directories: [root.path + "/none"]).isEmpty)
}
