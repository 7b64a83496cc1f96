#define _GNU_SOURCE
#include "CZnetdLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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

int znetd_is_listening_stream(int fd) {
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return -1;
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) return -1;
    return type == SOCK_STREAM && listening;
}

void znetd_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }
