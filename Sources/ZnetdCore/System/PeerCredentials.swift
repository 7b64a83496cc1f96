import CZnetdLinux
import Glibc

/// Who is at the other end of a connected unix socket, as the kernel recorded it when the peer
/// connected (SO_PEERCRED, SO_PEERGROUPS): it cannot be forged by the peer.
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups.
    public var groups: [UInt32]

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    public static func of(_ fd: Int32) throws(SystemError) -> PeerCredentials {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        try retryingEINTR("getsockopt SO_PEERCRED") { znetd_peer_credentials(fd, &pid, &uid, &gid) }
        var groups = [UInt32](repeating: 0, count: 64)
        var count = Int32(groups.count)
        if znetd_peer_groups(fd, &groups, &count) != 0 {
            if errno == ERANGE {
                groups = [UInt32](repeating: 0, count: Int(count))
                if znetd_peer_groups(fd, &groups, &count) != 0 { count = 0 }
            } else {
                count = 0
            }
        }
        return PeerCredentials(pid: pid, uid: uid, gid: gid, groups: Array(groups.prefix(Int(count))))
    }

    public func isMember(of group: UInt32) -> Bool {
        gid == group || groups.contains(group)
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }
}
