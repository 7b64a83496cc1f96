// Receiving side of the sd_notify protocol, for the NOTIFY_SOCKET znetd gives its backends.
#pragma once

#include <stddef.h>
#include <sys/types.h>

/// socket(AF_UNIX, SOCK_DGRAM) with SO_PASSCRED, non-blocking, close-on-exec.
int znetd_notify_socket(void);

/// recvmsg() one datagram; stores the sender's pid from SCM_CREDENTIALS (0 if absent) and
/// closes any descriptors that came with it. Returns the byte count or -1 with errno.
ssize_t znetd_notify_receive(int fd, char *buffer, size_t size, pid_t *sender);
