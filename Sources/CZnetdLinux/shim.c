#define _GNU_SOURCE
#include "CZnetdLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <unistd.h>

const uint32_t ZNETD_EPOLLIN = EPOLLIN;
const uint32_t ZNETD_EPOLLOUT = EPOLLOUT;
const uint32_t ZNETD_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t ZNETD_EPOLLHUP = EPOLLHUP;
const uint32_t ZNETD_EPOLLERR = EPOLLERR;
const uint32_t ZNETD_EPOLLET = EPOLLET;
const uint32_t ZNETD_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

int znetd_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int znetd_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int znetd_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

int znetd_epoll_delete(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int znetd_epoll_wait(int epfd, znetd_epoll_event *events, int max_events, int timeout_ms) {
    struct epoll_event raw[256];
    if (max_events > 256) max_events = 256;
    int n = epoll_wait(epfd, raw, max_events, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

int znetd_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int znetd_signalfd(const sigset_t *mask) { return signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC); }

int znetd_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n != (ssize_t)sizeof(info)) return -1;
    return (int)info.ssi_signo;
}

int znetd_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }
int znetd_pipe_set_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
int znetd_pipe_get_size(int fd) { return fcntl(fd, F_GETPIPE_SZ); }

ssize_t znetd_splice(int fd_in, int fd_out, size_t len) {
    return splice(fd_in, NULL, fd_out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

int znetd_socket(int domain, int type) { return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

int znetd_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int znetd_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

int znetd_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    return fcntl(fd, F_SETFD, flags);
}

const int ZNETD_SOCK_STREAM = SOCK_STREAM;
const int ZNETD_SOCK_DGRAM = SOCK_DGRAM;
const int ZNETD_MSG_NOSIGNAL = MSG_NOSIGNAL;
const int ZNETD_MSG_DONTWAIT = MSG_DONTWAIT;
const int ZNETD_SO_BINDTODEVICE = SO_BINDTODEVICE;

int znetd_set_keepalive(int fd, int idle_s, int interval_s, int count) {
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0) return -1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(idle_s)) < 0) return -1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof(interval_s)) < 0) return -1;
    return setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
}

int znetd_set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int znetd_get_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

int znetd_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int znetd_peer_groups(int fd, uint32_t *groups, int *count) {
    socklen_t len = (socklen_t)(*count * (int)sizeof(gid_t));
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
    *count = (int)(len / sizeof(gid_t));
    return rc;
}

int znetd_is_listening_stream(int fd) {
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -1;
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return -1;
    return type == SOCK_STREAM && listening;
}

void znetd_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

int znetd_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

const char *znetd_signal_abbreviation(int signal) { return sigabbrev_np(signal); }

// MARK: fork/exec

/// Child side: reports `stage`, errno and `detail` on the pipe and exits. Never returns.
static void spawn_fail(int report_fd, int stage, int detail) {
    znetd_spawn_failure failure = { .stage = stage, .error = errno, .detail = detail };
    ssize_t ignored = write(report_fd, &failure, sizeof(failure));
    (void)ignored;
    _exit(127);
}

/// Child side: closes every fd from `first` up except `keep` (close_range, or a loop on
/// kernels before 5.9). Returns -1 with errno when neither works.
static int spawn_close_from(int first, int keep) {
    int ok = 1;
    if (first < keep && close_range((unsigned)first, (unsigned)keep - 1, 0) < 0) ok = 0;
    if (ok && close_range((unsigned)keep + 1, ~0U, 0) < 0) ok = 0;
    if (ok) return 0;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0) return -1;
    int last = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : (int)limit.rlim_cur;
    for (int fd = first; fd < last; fd++) {
        if (fd != keep) close(fd);
    }
    return 0;
}

/// Child side, between fork and exec: async-signal-safe calls only. Never returns.
static void spawn_child(const znetd_spawn_request *r, int report_fd) {
    // 1. Signals: default dispositions (znetd ignores SIGPIPE); the mask is cleared last.
    //    The raw call, because sigaction(3) refuses the signals glibc reserves (32, 33) while
    //    an ancestor may have left them ignored. An all-zero kernel sigaction is SIG_DFL with
    //    no flags and an empty mask, whatever the architecture's field order.
    static const unsigned long default_action[8];
    for (int signal = 1; signal < NSIG; signal++) {
        if (signal != SIGKILL && signal != SIGSTOP) syscall(SYS_rt_sigaction, signal, default_action, NULL, NSIG / 8);
    }

    // 2. Own session and process group, so the whole group can be signalled.
    if (setsid() < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_SETSID, 0);

    // 3. fds: copy every source above the targets first, so no dup2 overwrites a source
    //    not yet placed; the report pipe moves there too.
    int count = r->fd_count;
    if (report_fd < count) {
        int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, count);
        if (moved < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_DUP, -1);
        report_fd = moved;
    }
    int copies[count];
    for (int i = 0; i < count; i++) {
        copies[i] = fcntl(r->fds[i], F_DUPFD_CLOEXEC, count);
        if (copies[i] < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_DUP, i);
    }
    for (int i = 0; i < count; i++) {
        // dup2 clears FD_CLOEXEC on the target: these are the fds the program keeps.
        if (dup2(copies[i], i) < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_DUP, i);
    }
    if (spawn_close_from(count, report_fd) < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_CLOSE, 0);

    // 4. Identity: supplementary groups and gid while still privileged, uid last.
    if (r->change_identity) {
        if (setgroups(r->group_count, r->groups) < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_SETGROUPS, 0);
        if (setgid(r->gid) < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_SETGID, 0);
        if (setuid(r->uid) < 0) spawn_fail(report_fd, ZNETD_SPAWN_STAGE_SETUID, 0);
    }

    // 5. Directory, as the new user (it may be readable only by them).
    if (r->working_directory != NULL && chdir(r->working_directory) < 0) {
        spawn_fail(report_fd, ZNETD_SPAWN_STAGE_CHDIR, 0);
    }

    // 6. LISTEN_PID: only the child knows its pid before exec.
    char listen_pid[32] = "LISTEN_PID=";
    if (r->listen_pid_slot >= 0) {
        char digits[16];
        int n = 0;
        for (unsigned pid = (unsigned)getpid(); pid > 0 || n == 0; pid /= 10) digits[n++] = (char)('0' + pid % 10);
        size_t at = sizeof("LISTEN_PID=") - 1;
        while (n > 0) listen_pid[at++] = digits[--n];
        listen_pid[at] = 0;
        r->envp[r->listen_pid_slot] = listen_pid;
    }

    // 7. Unblock everything (the mask survives exec) and exec. The report pipe closes on
    //    success (FD_CLOEXEC), which tells the parent the exec worked.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(r->path, r->argv, r->envp);
    spawn_fail(report_fd, ZNETD_SPAWN_STAGE_EXEC, 0);
}

pid_t znetd_spawn(const znetd_spawn_request *request, znetd_spawn_failure *failure) {
    memset(failure, 0, sizeof(*failure));
    if (request->fd_count < 3) {
        failure->stage = ZNETD_SPAWN_STAGE_DUP;
        failure->error = EINVAL;
        failure->detail = request->fd_count;
        return -1;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        failure->stage = ZNETD_SPAWN_STAGE_PIPE;
        failure->error = errno;
        return -1;
    }
    // Block every signal across fork, so no handler of znetd runs in the child before the
    // child has reset the dispositions.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        spawn_child(request, report[1]);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        failure->stage = ZNETD_SPAWN_STAGE_FORK;
        failure->error = fork_error;
        return -1;
    }
    ssize_t n;
    do {
        n = read(report[0], failure, sizeof(*failure));
    } while (n < 0 && errno == EINTR);
    int read_error = errno;
    close(report[0]);
    if (n == 0) return pid;
    if (n != (ssize_t)sizeof(*failure)) {
        kill(pid, SIGKILL);
        failure->stage = ZNETD_SPAWN_STAGE_REPORT;
        failure->error = n < 0 ? read_error : EIO;
        failure->detail = 0;
    }
    // The child is exiting with 127: reap it here, it never became a process anyone watches.
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return -1;
}
