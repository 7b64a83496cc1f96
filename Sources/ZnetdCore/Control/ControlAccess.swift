/// Who may use the control socket, decided per request from the peer's credentials.
///
/// Reading (status) takes root, znetd's own uid, or membership of the configured group;
/// changing (register, unregister) takes root, znetd's own uid, or a uid in `allow_uids`.
/// The socket file's mode (0600, or 0660 with a group) keeps everyone else from connecting at
/// all; this check is what separates readers from changers, and the second line of defence.
public struct ControlAccess: Sendable, Equatable {
    public enum Right: String, Sendable { case read, change }

    /// znetd's effective uid: the socket's owner.
    public var ownerUID: UInt32
    public var readerGroup: UInt32?
    public var changers: [UInt32]

    public init(ownerUID: UInt32, readerGroup: UInt32? = nil, changers: [UInt32] = []) {
        self.ownerUID = ownerUID
        self.readerGroup = readerGroup
        self.changers = changers
    }

    public func allows(_ peer: PeerCredentials, _ right: Right) -> Bool {
        if peer.uid == 0 || peer.uid == ownerUID { return true }
        if changers.contains(peer.uid) { return true }
        switch right {
        case .read: return readerGroup.map(peer.isMember(of:)) ?? false
        case .change: return false
        }
    }

    /// The error reply to a refused peer: what it lacks and how to get it.
    public func refusal(_ peer: PeerCredentials, _ right: Right) -> String {
        switch right {
        case .read:
            return "permission denied: uid \(peer.uid) may not read znetd's status (root, uid \(ownerUID)"
                + (readerGroup.map { ", or members of group \($0)" } ?? "") + " may; see control: in znetd.yaml(5))"
        case .change:
            return "permission denied: uid \(peer.uid) may not change registrations (root, uid \(ownerUID)"
                + (changers.isEmpty ? "" : ", or uids \(changers.map(String.init).joined(separator: ", "))")
                + " may; add it to control: allow_uids in znetd.yaml(5))"
        }
    }
}
