// Wrappers for Linux calls and constants that Glibc does not export to Swift
// (they need _GNU_SOURCE, are macros, or take packed or variadic arguments).
// No logic lives here: every function is one call, except `znetd_spawn`, whose child side
// must run between fork and exec where Swift cannot (only async-signal-safe calls there).
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <signal.h>

/// One ready event from epoll, unpacked (struct epoll_event is packed on x86_64,
/// which Swift cannot import as a normal struct).
typedef struct {
    uint32_t events;
    uint64_t data;
} znetd_epoll_event;

extern const uint32_t ZNETD_EPOLLIN;
extern const uint32_t ZNETD_EPOLLOUT;
extern const uint32_t ZNETD_EPOLLRDHUP;
extern const uint32_t ZNETD_EPOLLHUP;
extern const uint32_t ZNETD_EPOLLERR;
extern const uint32_t ZNETD_EPOLLET;
extern const uint32_t ZNETD_EPOLLEXCLUSIVE;

int znetd_epoll_create(void);
int znetd_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int znetd_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
int znetd_epoll_delete(int epfd, int fd);
/// epoll_wait into an unpacked array; returns the count or -1 with errno.
int znetd_epoll_wait(int epfd, znetd_epoll_event *events, int max_events, int timeout_ms);

int znetd_eventfd(void);
int znetd_signalfd(const sigset_t *mask);
/// Reads one signalfd_siginfo and returns its signal number, or -1 with errno.
int znetd_signalfd_read(int fd);

/// pipe2(O_NONBLOCK | O_CLOEXEC).
int znetd_pipe(int fds[2]);
int znetd_pipe_set_size(int fd, int size);
int znetd_pipe_get_size(int fd);
/// splice(in -> out) with SPLICE_F_MOVE | SPLICE_F_NONBLOCK.
ssize_t znetd_splice(int fd_in, int fd_out, size_t len);

/// socket() with SOCK_NONBLOCK | SOCK_CLOEXEC.
int znetd_socket(int domain, int type);
/// accept4() with SOCK_NONBLOCK | SOCK_CLOEXEC.
int znetd_accept(int fd, struct sockaddr *addr, socklen_t *len);
int znetd_set_nonblocking(int fd, int on);
int znetd_set_cloexec(int fd, int on);

extern const int ZNETD_SOCK_STREAM;
extern const int ZNETD_SOCK_DGRAM;
extern const int ZNETD_MSG_NOSIGNAL;
extern const int ZNETD_MSG_DONTWAIT;
extern const int ZNETD_SO_BINDTODEVICE;

/// Sets TCP keepalive on, with idle time, probe interval and probe count.
int znetd_set_keepalive(int fd, int idle_s, int interval_s, int count);
int znetd_set_int_option(int fd, int level, int name, int value);
int znetd_get_socket_error(int fd);
/// SO_PEERCRED of a connected unix socket: the peer's pid, uid and gid at connect time.
int znetd_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);
/// SO_PEERGROUPS: the peer's supplementary groups; `*count` in: room, out: groups there are.
int znetd_peer_groups(int fd, uint32_t *groups, int *count);

/// Names the calling thread (15 bytes at most), as shown by ps and top.
void znetd_set_thread_name(const char *name);

/// 1 if fd is a listening stream socket, 0 if not, -1 with errno.
int znetd_is_listening_stream(int fd);

/// Makes znetd the reaper of orphaned descendants (PR_SET_CHILD_SUBREAPER), so grandchildren
/// of a stopped backend are re-parented to znetd and reaped by it instead of by PID 1.
int znetd_set_child_subreaper(void);

/// "KILL" for SIGKILL (sigabbrev_np), or NULL for numbers without an abbreviation.
const char *znetd_signal_abbreviation(int signal);

// MARK: fork/exec

/// The child-side steps of `znetd_spawn`; one is reported when it fails before exec.
#define ZNETD_SPAWN_STAGE_PIPE 1       /* parent: pipe2 for the error report */
#define ZNETD_SPAWN_STAGE_FORK 2       /* parent: fork */
#define ZNETD_SPAWN_STAGE_REPORT 3     /* parent: reading the error report */
#define ZNETD_SPAWN_STAGE_SETSID 4
#define ZNETD_SPAWN_STAGE_DUP 5        /* detail: the child fd that could not be set up */
#define ZNETD_SPAWN_STAGE_CLOSE 6      /* closing inherited fds above the given ones */
#define ZNETD_SPAWN_STAGE_SETGROUPS 7
#define ZNETD_SPAWN_STAGE_SETGID 8
#define ZNETD_SPAWN_STAGE_SETUID 9
#define ZNETD_SPAWN_STAGE_CHDIR 10
#define ZNETD_SPAWN_STAGE_EXEC 11

/// What the caller decided; `znetd_spawn` only carries it out.
typedef struct {
    /// Passed to execve as is (no PATH search).
    const char *path;
    /// NULL-terminated.
    char *const *argv;
    /// NULL-terminated. The child may replace entry `listen_pid_slot` (see below).
    char **envp;
    /// Index in envp the child sets to "LISTEN_PID=<its own pid>", or -1.
    int listen_pid_slot;
    /// chdir here (after the identity change), or NULL to stay.
    const char *working_directory;
    /// 1: setgroups(groups), setgid(gid), setuid(uid), in that order. 0: keep znetd's.
    int change_identity;
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t group_count;
    /// fds[i] becomes fd i in the child, for i < fd_count (at least 3: stdin, stdout, stderr).
    /// Every other fd is closed. Sources may be any open fds, in any order.
    const int *fds;
    int fd_count;
} znetd_spawn_request;

/// Why a spawn failed: stage, errno, and a stage-specific detail (the fd for DUP).
typedef struct {
    int stage;
    int error;
    int detail;
} znetd_spawn_failure;

/// Forks a child that starts its own session, resets every signal disposition to default and
/// unblocks all signals, sets up fds 0..fd_count-1, closes all others, changes identity and
/// directory, then execs. Returns the pid once the exec succeeded, or -1 with `failure`
/// filled in (the failed child is reaped before returning).
pid_t znetd_spawn(const znetd_spawn_request *request, znetd_spawn_failure *failure);
#include "CZnetdLinuxNotify.h"
