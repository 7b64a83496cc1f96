// Wrappers for Linux calls and constants that Glibc does not export to Swift
// (they need _GNU_SOURCE, are macros, or take packed or variadic arguments).
// No logic lives here: every function is one call.
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

/// Names the calling thread (15 bytes at most), as shown by ps and top.
void znetd_set_thread_name(const char *name);

/// 1 if fd is a listening stream socket, 0 if not, -1 with errno.
int znetd_is_listening_stream(int fd);

#include "CZnetdLinuxNotify.h"
