// Holds many idle TCP connections open, for the memory and scale benchmarks.
//
//   conns serve PORT
//       An echo backend on 127.0.0.1:PORT: accepts without limit, echoes whatever arrives,
//       closes when the peer does. One epoll loop, nothing allocated per connection.
//   conns hold PORT N DEADLINE_S
//       Opens N connections to 127.0.0.1:PORT (at most 256 handshakes in flight, so the
//       listen backlog never overflows), sends one byte on each and waits for it to come back:
//       a connection counts as held only once its byte has made the round trip through the
//       proxy to the backend and back. Prints "held K of N in S s (E errors, U unanswered, T s in
//       all)" (S: when the last one was held) once every connection is held or failed, or
//       DEADLINE_S has passed, then keeps every connection open until stdin closes or
//       SIGTERM arrives, and exits.
//
// Each process has its own RLIMIT_NOFILE, so client, proxy and backend can each hold their
// share of a 10,000-connection test under a 20,000 hard limit.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static int serve(int port) {
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    struct sockaddr_in sin = loopback(port);
    if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 4096) < 0) {
        perror("conns serve: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[256];
    char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) {
                        if (errno == EMFILE || errno == ENFILE) { usleep(10000); }
                        break;
                    }
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r > 0) {
                (void)!write(fd, buf, r);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(fd);
            }
        }
    }
}

static volatile sig_atomic_t stopping;
static void on_term(int sig) { (void)sig; stopping = 1; }

enum { CONNECTING, ECHOING, HELD, FAILED };

static int hold(int port, int want, double deadline_s) {
    int *fds = calloc(want, sizeof(int));
    unsigned char *state = calloc(want, 1);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct sockaddr_in sin = loopback(port);
    int opened = 0, inflight = 0, held = 0, errors = 0;
    const int max_inflight = 256;
    double start = now_s(), deadline = start + deadline_s, last_held = start;
    struct epoll_event events[512];
    while (held + errors < want && now_s() < deadline) {
        while (opened < want && inflight < max_inflight) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) { errors += want - opened; opened = want; break; }
            fds[opened] = fd;
            int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
            if (rc < 0 && errno != EINPROGRESS) {
                close(fd);
                state[opened] = FAILED;
                errors++;
                opened++;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = opened};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            state[opened] = CONNECTING;
            opened++;
            inflight++;
        }
        int n = epoll_wait(ep, events, 512, 100);
        for (int i = 0; i < n; i++) {
            int k = events[i].data.u32;
            int fd = fds[k];
            if (state[k] == CONNECTING && (events[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err == 0 && write(fd, "x", 1) == 1) {
                    state[k] = ECHOING;
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = k};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
                } else {
                    state[k] = FAILED;
                }
            } else if (state[k] == ECHOING && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                char c;
                state[k] = read(fd, &c, 1) == 1 ? HELD : FAILED;
            } else if (events[i].events & (EPOLLHUP | EPOLLERR)) {
                state[k] = FAILED;
            }
            if (state[k] == HELD || state[k] == FAILED) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                inflight--;
                if (state[k] == HELD) { held++; last_held = now_s(); }
                else { errors++; close(fd); }
            }
        }
    }
    printf("held %d of %d in %.2f s (%d errors, %d unanswered, %.2f s in all)\n", held, want, last_held - start,
           errors, want - held - errors, now_s() - start);
    fflush(stdout);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    struct pollfd in = {.fd = 0, .events = POLLIN};
    char buf[64];
    while (!stopping) {
        if (poll(&in, 1, 1000) > 0 && read(0, buf, sizeof(buf)) <= 0) break;
    }
    return 0;
}

int main(int argc, char **argv) {
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
    if (argc == 5 && strcmp(argv[1], "hold") == 0) return hold(atoi(argv[2]), atoi(argv[3]), atof(argv[4]));
    fprintf(stderr, "usage: conns serve PORT | conns hold PORT N DEADLINE_S\n");
    return 64;
}
