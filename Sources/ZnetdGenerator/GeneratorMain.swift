import Glibc
public import ZnetdConfig

/// What the `znetd-generator` executable does, as systemd runs it:
/// `znetd-generator NORMAL_DIR [EARLY_DIR LATE_DIR]`. Reads the configuration from
/// `directories` (znetd's search path: `znetd.yaml` and `conf.d/*.yaml` of /etc/znetd, /run/znetd
/// and /usr/lib/znetd, the first overriding the others), writes the units into NORMAL_DIR and
/// returns the exit status. A configuration with errors writes nothing and fails
/// (each error logged); no configuration writes nothing and succeeds.
///
/// `log` gets each line to report; the executable sends it to /dev/kmsg (stderr without it).
public func runGenerator(
    arguments: [String], directories: [String] = ConfigLoader.searchDirectories,
    options base: GeneratorOptions = GeneratorOptions(),
    log: (String) -> Void
) -> Int32 {
    guard arguments.count == 1 || arguments.count == 3 else {
        log("usage: znetd-generator NORMAL_DIR [EARLY_DIR LATE_DIR]")
        return 1
    }
    let files = ConfigLoader.defaultFiles(directories: directories)
    // A broken file costs only its own services their units (their running sockets stay up
    // until restarted); the rest are generated as usual.
    let partial: PartialConfiguration
    do {
        partial = try ConfigLoader.loadSkippingBrokenFiles(files: files)
    } catch {
        for problem in error.errors { log("\(problem)") }
        log("configuration has errors; no units written")
        return 1
    }
    partial.warnings.forEach(log)
    let configuration = partial.configuration
    var options = base
    if directories != ConfigLoader.searchDirectories {
        // Not znetd's own search path: the units must name what they were generated from.
        options.configArguments = directories
    }
    options.sourceFiles = files
    do {
        try writeUnits(generateUnits(configuration, options: options), to: arguments[0])
    } catch {
        log("cannot write units: \(error)")
        return 1
    }
    return partial.skipped.isEmpty ? 0 : 1
}
