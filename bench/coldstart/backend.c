// A backend that is ready as fast as a process can be: it notes CLOCK_MONOTONIC when main()
// starts, listens, optionally says READY=1 on $NOTIFY_SOCKET, and answers every connection
// with "T0 T1\n" (start and ready times in ns), so the client can subtract the backend's own
// time-to-ready from the delay it saw.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long long t0 = now_ns();
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0) { perror("listen"); return 1; }
    long long t1 = now_ns();
    const char *notify = getenv("NOTIFY_SOCKET");
    if (notify) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        size_t n = strlen(notify);
        memcpy(sun.sun_path, notify, n);
        if (sun.sun_path[0] == '@') sun.sun_path[0] = 0;
        int s = socket(AF_UNIX, SOCK_DGRAM, 0);
        sendto(s, "READY=1", 7, 0, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) + n);
        close(s);
    }
    char reply[64];
    int len = snprintf(reply, sizeof(reply), "%lld %lld\n", t0, t1);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) continue;
        write(c, reply, len);
        close(c);
    }
}
