import CZnetdLinux
import Glibc

/// Starts a named POSIX thread running `body`. The threads znetd starts live as long as the
/// process (event loops) or end on their own (resolver jobs), so none is ever joined.
enum LoopThread {
    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            // Thread names are limited to 15 bytes by the kernel.
            znetd_set_thread_name(String(start.name.prefix(15)))
            start.body()
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SystemError("pthread_create", errno: rc, subject: name)
        }
    }
}
