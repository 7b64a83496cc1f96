internal import CSystemd
internal import CYAML
internal import CZnetdLinux
public func znetdProbe() -> Int32 { sd_booted() + Int32(yaml_get_version_string() != nil ? 1 : 0) + znetd_eventfd() }
