public import ZnetdConfig

/// One unit file to write: its file name (no directory) and its whole text.
public struct GeneratedUnit: Sendable, Hashable {
    public var name: String
    public var text: String
    /// Targets that want this unit (its [Install] WantedBy=): a generator enables a unit with a
    /// `TARGET.wants/` symlink, since `systemctl enable` does not reach generated units.
    public var wantedBy: [String]

    public init(name: String, text: String, wantedBy: [String] = []) {
        self.name = name
        self.text = text
        self.wantedBy = wantedBy
    }
}

/// How the units are cut and what they run.
public struct GeneratorOptions: Sendable, Hashable {
    /// Which processes serve the services; `nil`: the configuration's `unit_layout`.
    public var mode: UnitLayout?
    /// The znetd binary in ExecStart=.
    public var znetdPath: String
    /// Each `--config` argument of ExecStart= (files or directories), in order; none: znetd's
    /// own search path (/etc/znetd, /run/znetd, /usr/lib/znetd), which the generator reads too.
    public var configArguments: [String]
    /// The configuration files read, for the header comment and SourcePath= (the first).
    public var sourceFiles: [String]

    public init(
        mode: UnitLayout? = nil,
        znetdPath: String = "/usr/bin/znetd",
        configArguments: [String] = [],
        sourceFiles: [String] = ["/etc/znetd/znetd.yaml"]
    ) {
        self.mode = mode
        self.znetdPath = znetdPath
        self.configArguments = configArguments
        self.sourceFiles = sourceFiles
    }
}

/// Turns a configuration into systemd units. Pure: reads no files, and the same input always
/// gives the same units, sorted by file name.
public func generateUnits(_ configuration: Configuration, options: GeneratorOptions = GeneratorOptions())
    -> [GeneratedUnit]
{
    let services = configuration.services.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    // The same in every unit: made once (the header names every file read, 46 in bench/generator).
    let common = CommonLines(options, controlGroup: configuration.control.group != nil)
    var units: [GeneratedUnit] = []
    switch options.mode ?? configuration.unitLayout {
    case .perService:
        let groups = listenerGroups(configuration)
        let grouped = Set(groups.flatMap { $0.services.map(\.name) })
        units.reserveCapacity(services.count * 2)
        for service in services where !grouped.contains(service.name) {
            let serviceUnit = "znetd-\(service.name).service"
            let sockets = socketUnits(of: service, serviceUnit: serviceUnit, common: common)
            units += sockets
            units.append(serviceUnitFile(
                name: serviceUnit, services: [service], sockets: sockets.map(\.name),
                configuration: configuration, options: options, common: common))
        }
        // A listener and the services routed through it run in one process.
        for group in groups {
            let serviceUnit = "znetd-\(group.listeners[0].name).service"
            var sockets: [GeneratedUnit] = []
            for listener in group.listeners {
                sockets += socketUnits(of: listener, serviceUnit: serviceUnit, common: common)
            }
            for service in group.services {
                sockets += socketUnits(of: service, serviceUnit: serviceUnit, common: common)
            }
            units += sockets
            units.append(serviceUnitFile(
                name: serviceUnit, services: group.services, listeners: group.listeners,
                sockets: sockets.map(\.name), configuration: configuration, options: options, common: common))
        }
        if let metrics = configuration.metricsListen, !services.isEmpty {
            units += metricsCollectorUnits(metrics, options: options, common: common)
        }
    case .shared:
        guard !services.isEmpty || !configuration.listeners.isEmpty else { return [] }
        var sockets: [GeneratedUnit] = []
        for listener in configuration.listeners {
            sockets += socketUnits(of: listener, serviceUnit: "znetd.service", common: common)
        }
        for service in services {
            sockets += socketUnits(of: service, serviceUnit: "znetd.service", common: common)
        }
        if let metrics = configuration.metricsListen {
            sockets.append(metricsSocketUnit(metrics, serviceUnit: "znetd.service", common: common))
        }
        units = sockets
        units.append(serviceUnitFile(
            name: "znetd.service", services: services, listeners: configuration.listeners,
            sockets: sockets.map(\.name), configuration: configuration, options: options, common: common))
    }
    return units.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
}

// MARK: - Sockets

/// The socket units of one service. BindToDevice= applies to a whole socket unit, so the
/// addresses of each `interface:` get a unit of their own (`znetd-NAME@IFACE.socket`) when the
/// service also listens elsewhere; otherwise everything is in `znetd-NAME.socket`.
func socketUnits(of service: ServiceConfig, serviceUnit: String, common: CommonLines) -> [GeneratedUnit] {
    socketUnits(owner: service.name, kind: "service", listen: service.listen, socketOptions: service.socketOptions,
                clientAccess: service.clientAccess, sourceFile: service.location?.file,
                serviceUnit: serviceUnit, common: common)
}

/// The socket units of a shared listener: named and fed like a service's.
func socketUnits(of listener: ListenerConfig, serviceUnit: String, common: CommonLines) -> [GeneratedUnit] {
    socketUnits(owner: listener.name, kind: "listener", listen: listener.listen, socketOptions: listener.socketOptions,
                clientAccess: listener.clientAccess, sourceFile: listener.location?.file,
                serviceUnit: serviceUnit, common: common)
}

private func socketUnits(
    owner name: String, kind: String, listen: [ListenAddress], socketOptions: SocketOptions,
    clientAccess: ClientAccess, sourceFile: String?, serviceUnit: String, common: CommonLines
) -> [GeneratedUnit] {
    var groups: [(device: String?, streams: [String])] = []
    for address in listen {
        let (device, stream) = listenStream(address)
        if let index = groups.firstIndex(where: { $0.device == device }) {
            groups[index].streams.append(stream)
        } else {
            groups.append((device, [stream]))
        }
    }
    groups.sort { ($0.device ?? "").utf8.lexicographicallyPrecedes(($1.device ?? "").utf8) }
    return groups.map { group in
        let unitName = groups.count == 1 || group.device == nil
            ? "znetd-\(name).socket"
            : "znetd-\(name)@\(SystemdSyntax.unitNameComponent(group.device!)).socket"
        var text = UnitText(common.header, capacity: common.header.utf8.count + 512)
        text += "[Unit]\n"
        text += "Description=znetd listening sockets of \(kind) \(name)"
        if let device = group.device, groups.count > 1 { text += " on \(SystemdSyntax.plain(device))" }
        text += "\n"
        text += "Documentation=man:znetd(8)\n"
        text += common.sourcePath(file: sourceFile)
        text += "\n[Socket]\n"
        for stream in group.streams { text += "ListenStream=\(SystemdSyntax.plain(stream))\n" }
        if let device = group.device { text += "BindToDevice=\(SystemdSyntax.plain(device))\n" }
        text += "FileDescriptorName=\(name)\n"
        text += "Service=\(serviceUnit)\n"
        text += "NoDelay=yes\n"
        text += "Backlog=\(socketOptions.backlog)\n"
        if socketOptions.freeBind { text += "FreeBind=yes\n" }
        if socketOptions.reusePort { text += "ReusePort=yes\n" }
        text += clientAccessLines(clientAccess)
        text += "\n[Install]\nWantedBy=sockets.target\n"
        return GeneratedUnit(name: unitName, text: text.string, wantedBy: ["sockets.target"])
    }
}

/// Listeners that share a service, with every service routed through them: each group runs in
/// one process (a route is an in-process hand-off), named after its first listener.
func listenerGroups(_ configuration: Configuration) -> [(listeners: [ListenerConfig], services: [ServiceConfig])] {
    let listeners = configuration.listeners.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    var groupOf: [String: Int] = [:]  // listener name -> group index
    var groups: [(listeners: [ListenerConfig], services: [ServiceConfig])] = []
    for listener in listeners {
        groupOf[listener.name] = groups.count
        groups.append(([listener], []))
    }
    let services = configuration.services.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    for service in services {
        let indices = Array(Set(service.routes.compactMap { groupOf[$0.listener] })).sorted()
        guard let target = indices.first else { continue }
        // Merge every other group this service touches into the first one.
        for index in indices.dropFirst() where !groups[index].listeners.isEmpty {
            for listener in groups[index].listeners { groupOf[listener.name] = target }
            groups[target].listeners += groups[index].listeners
            groups[target].services += groups[index].services
            groups[index] = ([], [])
        }
        groups[target].services.append(service)
    }
    return groups.filter { !$0.listeners.isEmpty }.map { group in
        (group.listeners.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) },
         group.services.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) })
    }
}

/// The ListenStream= value of an address, and the device it is bound to (`interface:`).
func listenStream(_ address: ListenAddress) -> (device: String?, stream: String) {
    switch address {
    case .inet(nil, let port): return (nil, "\(port)")
    case .inet(let host?, let port): return (nil, host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)")
    case .unix(let path): return (nil, path)
    case .interface(let name, let port): return (name, "\(port)")
    }
}

// MARK: - Metrics

/// `metrics_listen:` in the shared layout: one more socket of `znetd.service`, named so that
/// no service claims it (see ControlPlane.metricsSocketName).
func metricsSocketUnit(_ address: ListenAddress, serviceUnit: String, common: CommonLines) -> GeneratedUnit {
    var text = metricsSocketHead(address, description: "znetd Prometheus metrics endpoint", common: common)
    text += "FileDescriptorName=_metrics\n"
    text += "Service=\(serviceUnit)\n"
    text += "\n[Install]\nWantedBy=sockets.target\n"
    return GeneratedUnit(name: "znetd-metrics.socket", text: text.string, wantedBy: ["sockets.target"])
}

/// The start of a `znetd-metrics.socket`, up to its ListenStream= (the layouts differ after it).
private func metricsSocketHead(_ address: ListenAddress, description: String, common: CommonLines) -> UnitText {
    var text = UnitText(common.header, capacity: common.header.utf8.count + 512)
    text += "[Unit]\n"
    text += "Description=\(description)\n"
    text += "Documentation=man:znetd(8) man:znetd.yaml(5)\n"
    text += common.fallbackSourcePath
    text += "\n[Socket]\n"
    text += "ListenStream=\(SystemdSyntax.plain(listenStream(address).stream))\n"
    return text
}

/// `metrics_listen:` in the per-service layout, where each service is its own process: a
/// socket that starts `znetd metrics --inetd` per scrape (Accept=yes, as inetd would), which
/// asks every znetd's control socket and answers with all their services. Root, because the
/// control sockets belong to each unit's dynamic user; no other privilege, no network.
func metricsCollectorUnits(_ address: ListenAddress, options: GeneratorOptions, common: CommonLines) -> [GeneratedUnit] {
    var socket = metricsSocketHead(
        address, description: "znetd Prometheus metrics endpoint (all znetd units)", common: common)
    socket += "Accept=yes\n"
    socket += "# Scrapes are rare: a few at once is plenty.\n"
    socket += "MaxConnections=8\n"
    socket += "\n[Install]\nWantedBy=sockets.target\n"

    var service = UnitText(common.header, capacity: common.header.utf8.count + 2048)
    service += "[Unit]\n"
    service += "Description=znetd metrics scrape\n"
    service += "Documentation=man:znetd(8)\n"
    service += "\n[Service]\n"
    service += "ExecStart=\(SystemdSyntax.execWord(options.znetdPath)) metrics --inetd\n"
    service += "StandardInput=socket\n"
    service += "StandardOutput=socket\n"
    service += "StandardError=journal\n"
    service += "TimeoutSec=10s\n"
    service += "# Hardening: root only to reach the control sockets of the znetd units (each owned by\n"
    service += "# that unit's dynamic user); nothing else.\n"
    service += "User=root\n"
    service += "CapabilityBoundingSet=CAP_DAC_OVERRIDE\n"
    service += "AmbientCapabilities=\n"
    service += "NoNewPrivileges=yes\n"
    service += "ProtectSystem=strict\n"
    service += "ProtectHome=yes\n"
    service += "PrivateTmp=yes\n"
    service += "PrivateDevices=yes\n"
    service += "PrivateNetwork=yes\n"
    service += "IPAddressDeny=any\n"
    service += "ProtectKernelTunables=yes\n"
    service += "ProtectKernelModules=yes\n"
    service += "ProtectKernelLogs=yes\n"
    service += "ProtectControlGroups=yes\n"
    service += "ProtectClock=yes\n"
    service += "ProtectHostname=yes\n"
    service += "ProtectProc=invisible\n"
    service += "ProcSubset=pid\n"
    service += "RestrictAddressFamilies=AF_UNIX\n"
    service += "RestrictNamespaces=yes\n"
    service += "RestrictRealtime=yes\n"
    service += "RestrictSUIDSGID=yes\n"
    service += "LockPersonality=yes\n"
    service += "MemoryDenyWriteExecute=yes\n"
    service += "SystemCallArchitectures=native\n"
    service += "SystemCallFilter=@system-service\n"
    service += "SystemCallFilter=~@privileged @resources\n"
    service += "UMask=0077\n"
    service += "DevicePolicy=closed\n"
    return [
        GeneratedUnit(name: "znetd-metrics.socket", text: socket.string, wantedBy: ["sockets.target"]),
        GeneratedUnit(name: "znetd-metrics@.service", text: service.string),
    ]
}

/// allow:/deny: as the socket's IP filters: the kernel drops refused clients' packets before
/// a connection exists (znetd checks again at accept()).
func clientAccessLines(_ access: ClientAccess) -> String {
    var text = ""
    if !access.allow.isEmpty {
        text += "IPAddressAllow=\(access.allow.map(\.description).joined(separator: " "))\n"
    }
    if !access.deny.isEmpty {
        text += "IPAddressDeny=\(access.deny.map(\.description).joined(separator: " "))\n"
    }
    return text
}

// MARK: - Service

/// What the services of one znetd process ask of its sandbox.
///
/// `systemd-analyze security --offline=yes` (systemd 252) of the golden units: plain forwarder
/// with IPAddressDeny= 1.1; process backend (no MemoryDenyWriteExecute=, no IP lists) 1.3;
/// unit launcher (root, no PrivateUsers=) 1.6; hooks run as another user (root, CAP_SETUID,
/// CAP_SETGID, CAP_KILL, @setuid) 2.3; shared mode of two forwarders 1.2.
struct ServiceShape {
    /// A unit or transient-unit launcher: znetd talks to systemd over the system bus.
    var usesBus = false
    /// A command with `user:` or `group:`: znetd changes its children's credentials.
    var switchesUser = false
    /// A process or hooks backend: it runs in znetd's cgroup and inherits its sandbox.
    var runsChildren = false

    init(_ services: [ServiceConfig]) {
        for service in services {
            guard let onDemand = service.onDemand else { continue }
            switch onDemand.launcher {
            case .process(let command):
                runsChildren = true
                note(command)
            case .hooks(let start, let stop, let check):
                runsChildren = true
                for command in [start, stop, check].compactMap({ $0 }) { note(command) }
            case .transientUnit:
                // systemd, not znetd, runs the command as its user: still the bus shape.
                usesBus = true
            case .unit:
                usesBus = true
            }
        }
    }

    private mutating func note(_ command: Command) {
        if command.user != nil || command.group != nil { switchesUser = true }
    }

    var needsRoot: Bool { usesBus || switchesUser }

    private init(usesBus: Bool, switchesUser: Bool, runsChildren: Bool) {
        self.usesBus = usesBus
        self.switchesUser = switchesUser
        self.runsChildren = runsChildren
    }

    /// Every shape, in the order of ``index``.
    static let all = (0..<8).map { ServiceShape(usesBus: $0 & 1 != 0, switchesUser: $0 & 2 != 0, runsChildren: $0 & 4 != 0) }

    var index: Int { (usesBus ? 1 : 0) | (switchesUser ? 2 : 0) | (runsChildren ? 4 : 0) }
}

func serviceUnitFile(
    name: String, services: [ServiceConfig], listeners: [ListenerConfig] = [], sockets: [String],
    configuration: Configuration, options: GeneratorOptions, common: CommonLines
) -> GeneratedUnit {
    let shape = ServiceShape(services)
    var text = UnitText(common.header, capacity: common.header.utf8.count + 2048)
    text += "[Unit]\n"
    let layout = options.mode ?? configuration.unitLayout
    if layout == .shared {
        text += "Description=znetd socket-activated proxy\n"
    } else if !listeners.isEmpty {
        text += "Description=znetd proxy of listener\(listeners.count == 1 ? "" : "s") \(listeners.map(\.name).joined(separator: ", "))\n"
    } else {
        text += "Description=znetd proxy of service \(services[0].name)\n"
    }
    text += "Documentation=man:znetd(8) man:znetd.yaml(5)\n"
    if layout != .shared, let listener = listeners.first {
        text += common.sourcePath(file: listener.location?.file)
    } else {
        text += common.sourcePath(of: services)
    }
    text += "Requires=\(sockets.joined(separator: " "))\n"
    text += "After=network.target \(sockets.joined(separator: " "))\n"

    var exec = [options.znetdPath, "run"]
    for argument in options.configArguments { exec += ["--config", argument] }
    // Each unit names its services: znetd then runs exactly those whose sockets the unit has,
    // and leaves out a broken file of another service (see ConfigLoader.loadSkippingBrokenFiles).
    for service in services { exec += ["--service", service.name] }
    for listener in listeners { exec += ["--listener", listener.name] }

    text += "\n[Service]\n"
    text += "Type=notify\n"
    text += "ExecStart=\(exec.map(SystemdSyntax.execWord).joined(separator: " "))\n"
    text += "ExecReload=/bin/kill -HUP $MAINPID\n"
    text += "# znetd pings from its event loops at half this interval; a stuck loop gets it restarted.\n"
    text += "WatchdogSec=30s\n"
    text += "# The watchdog ends a stuck znetd with SIGABRT: let systemd-coredump have it, not the Swift\n"
    text += "# runtime's backtracer.\n"
    text += "Environment=SWIFT_BACKTRACE=enable=no\n"
    text += "TimeoutAbortSec=10s\n"
    text += "Restart=on-failure\n"
    text += "# Connections in flight get drain_timeout (\(SystemdSyntax.timeSpan(configuration.drainTimeout))) after SIGTERM.\n"
    text += "TimeoutStopSec=\(SystemdSyntax.timeSpan(configuration.drainTimeout + .seconds(15)))\n"
    text += "# Two descriptors per connection, plus pooled pipes.\n"
    text += "LimitNOFILE=65536\n"
    text += credentialLines(listeners)
    let unitBase = String(name.dropLast(".service".count))
    text += "# The control socket (znetd status, znetd register) in $RUNTIME_DIRECTORY, and the\n"
    text += "# registrations kept across restarts (znetd register --persistent) in $STATE_DIRECTORY.\n"
    text += "RuntimeDirectory=znetd/control/\(unitBase)\n"
    text += "StateDirectory=znetd/\(unitBase)\n"
    if let group = configuration.control.group {
        text += "# control: group: the socket is given to this group, which znetd must be in.\n"
        text += "SupplementaryGroups=\(SystemdSyntax.plain(group))\n"
    }
    text += ipAddressLines(services, shape: shape)
    text += "\n"
    text += common.hardening(shape)
    if configuration.control.group != nil {
        text += "# control: group: giving the control socket to the group takes chown(2), and the group\n"
        text += "# must exist in znetd's user namespace (so no PrivateUsers=).\n"
        text += "SystemCallFilter=@chown\n"
    }
    return GeneratedUnit(name: name, text: text.string)
}

/// LoadCredential= for each `credential:NAME` of the listeners' certificates. A bare name
/// (systemd 252, systemd.exec(5)) takes a credential the manager itself received, else the file
/// NAME in /etc/credstore/, /run/credstore/ or /usr/lib/credstore/: private keys stay readable
/// by root alone and reach znetd's (dynamic) user in $CREDENTIALS_DIRECTORY.
func credentialLines(_ listeners: [ListenerConfig]) -> String {
    var names: [String] = []
    for listener in listeners {
        for files in listener.tls?.certificates ?? [] {
            for path in [files.certificate, files.key] {
                if case .credential(let name) = path, !names.contains(name) { names.append(name) }
            }
        }
    }
    guard !names.isEmpty else { return "" }
    return "# TLS certificates and keys: from /etc/credstore/NAME (or a credential systemd itself got).\n"
        + names.map { "LoadCredential=\(SystemdSyntax.plain($0))\n" }.joined()
}

/// IPAddressAllow=/IPAddressDeny= for the backend connections: only when every target of every
/// service is an IP literal (a hostname needs DNS, whose servers are not known here; an `exec:`
/// target may name any address) and no program runs in znetd's cgroup (a backend or an `exec:`
/// health check would inherit the filter).
func ipAddressLines(_ services: [ServiceConfig], shape: ServiceShape) -> String {
    var hosts: [String] = []
    for service in services {
        if case .exec? = service.balancing.health.probe { return "" }
        for target in service.targets {
            guard case .inet(let host, _) = target.address, SystemdSyntax.isIPLiteral(host) else { return "" }
            if !hosts.contains(host) { hosts.append(host) }
        }
    }
    if shape.runsChildren {
        return "# No IPAddressAllow=/IPAddressDeny=: the backend runs in this unit's cgroup and would\n"
            + "# inherit them.\n"
    }
    hosts.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    return "# Backend connections only to the configured targets.\n"
        + "IPAddressDeny=any\n"
        + "IPAddressAllow=localhost \(hosts.joined(separator: " "))\n"
}

func hardening(_ shape: ServiceShape, controlGroup: Bool = false) -> String {
    var text = ""
    if shape.needsRoot {
        text += "# Hardening, root shape: "
        if shape.usesBus {
            text += "a unit or transient-unit launcher talks to systemd over D-Bus,\n"
            text += "# which a dynamic user cannot use"
            if shape.switchesUser { text += "; and a backend runs as another user (user:/group:)" }
        } else {
            text += "a backend runs as another user (user:/group:), which only root\n# can arrange"
        }
        text += ". So no DynamicUser= and no PrivateUsers= (it would hide root).\n"
        text += "DynamicUser=no\n"
        text += "User=root\n"
    } else {
        text += "# Hardening: a plain forwarder needs no privileges and no writable files but its state.\n"
        text += "DynamicUser=yes\n"
    }
    if shape.switchesUser {
        text += "# Changing a backend's user and group, and signalling it afterwards.\n"
        text += "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_KILL\n"
    } else {
        text += "CapabilityBoundingSet=\n"
    }
    text += "NoNewPrivileges=yes\n"
    text += "ProtectSystem=strict\n"
    text += "ProtectHome=yes\n"
    text += "PrivateTmp=yes\n"
    text += "PrivateDevices=yes\n"
    if !shape.needsRoot && !controlGroup { text += "PrivateUsers=yes\n" }
    text += "ProtectKernelTunables=yes\n"
    text += "ProtectKernelModules=yes\n"
    text += "ProtectKernelLogs=yes\n"
    text += "ProtectControlGroups=yes\n"
    text += "ProtectClock=yes\n"
    text += "ProtectHostname=yes\n"
    text += "ProtectProc=invisible\n"
    text += "ProcSubset=pid\n"
    text += "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n"
    text += "RestrictNamespaces=yes\n"
    text += "RestrictRealtime=yes\n"
    text += "RestrictSUIDSGID=yes\n"
    text += "LockPersonality=yes\n"
    if shape.runsChildren {
        text += "# Not MemoryDenyWriteExecute=: the backend inherits it, and JIT runtimes need W+X memory.\n"
        text += "# It inherits the rest too: give it ReadWritePaths= and the like in a drop-in.\n"
    } else {
        text += "MemoryDenyWriteExecute=yes\n"
    }
    text += "SystemCallArchitectures=native\n"
    text += "SystemCallFilter=@system-service\n"
    text += "SystemCallFilter=~@privileged @resources\n"
    if shape.switchesUser { text += "SystemCallFilter=@setuid\n" }
    text += "UMask=0077\n"
    text += "DevicePolicy=closed\n"
    return text
}

// MARK: - Common

/// The lines every unit of one run shares, made once.
struct CommonLines {
    /// The header comment, with the blank line after it.
    let header: String
    /// SourcePath= of a unit whose services come from different files, or have no file.
    let fallbackSourcePath: String

    /// hardening(_:) of each ServiceShape: a few shapes, many units.
    private let hardeningTexts: [String]

    func hardening(_ shape: ServiceShape) -> String { hardeningTexts[shape.index] }

    /// `controlGroup`: the configuration has `control: group:` (see ``hardening(_:controlGroup:)``).
    init(_ options: GeneratorOptions, controlGroup: Bool) {
        hardeningTexts = ServiceShape.all.map { ZnetdGenerator.hardening($0, controlGroup: controlGroup) }
        var header = "# Automatically generated by znetd-generator\n"
        if !options.sourceFiles.isEmpty {
            header += "# Source: \(options.sourceFiles.joined(separator: " "))\n"
        }
        self.header = header + "\n"
        fallbackSourcePath = options.sourceFiles.first.map { "SourcePath=\(SystemdSyntax.plain($0))\n" } ?? ""
    }

    /// SourcePath=: the file that defines the service (so `systemctl status` points at it), or the
    /// first configuration file for a unit of several services.
    func sourcePath(of services: [ServiceConfig]) -> String {
        sourcePath(file: services.count == 1 ? services[0].location?.file : nil)
    }

    /// SourcePath= of a unit defined in `file`, else the first configuration file.
    func sourcePath(file: String?) -> String {
        guard let file else { return fallbackSourcePath }
        return "SourcePath=\(SystemdSyntax.plain(file))\n"
    }
}
