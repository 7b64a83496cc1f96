import Glibc
import ZnetdConfig

/// What the `znetd-generator` executable does, as systemd runs it:
/// `znetd-generator NORMAL_DIR [EARLY_DIR LATE_DIR]`. Reads the configuration under `root`
/// (`/etc/znetd`: `znetd.yaml` and `conf.d/*.yaml`), writes the per-service units into
/// NORMAL_DIR and returns the exit status. A configuration with errors writes nothing and fails
/// (each error logged); no configuration writes nothing and succeeds.
///
/// `log` gets each line to report; the executable sends it to /dev/kmsg (stderr without it).
public func runGenerator(
    arguments: [String], root: String = "/etc/znetd", options base: GeneratorOptions = GeneratorOptions(),
    log: (String) -> Void
) -> Int32 {
    guard arguments.count == 1 || arguments.count == 3 else {
        log("usage: znetd-generator NORMAL_DIR [EARLY_DIR LATE_DIR]")
        return 1
    }
    let files = ConfigLoader.defaultFiles(root: root)
    let configuration: Configuration
    do {
        configuration = try ConfigLoader.load(files: files)
    } catch {
        for problem in error.errors { log("\(problem)") }
        log("configuration has errors; no units written")
        return 1
    }
    var options = base
    options.configArguments = [root]
    options.sourceFiles = files
    do {
        try writeUnits(generateUnits(configuration, options: options), to: arguments[0])
    } catch {
        log("cannot write units: \(error)")
        return 1
    }
    return 0
}
