// System headers Swift does not import by itself, plus tiny helpers where the C layout
// does not map well into Swift (epoll_event is a packed struct with a union on x86_64).
#ifndef SWITCHBOARD_CLINUX_H
#define SWITCHBOARD_CLINUX_H

#include <lz4.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>

/// One readiness event, unpacked: the fd it concerns and the epoll event bits.
typedef struct {
    uint32_t events;
    int32_t fd;
} sb_epoll_ready;

/// epoll_ctl with the fd itself as the event's user data.
static inline int sb_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev);
}

/// Waits for readiness into an unpacked array (at most 256 events per call), at most
/// `timeout_ns` nanoseconds (-1: no limit). epoll_pwait2 (Linux 5.11) keeps timers precise
/// to the microsecond; on older kernels epoll_wait's milliseconds, rounded up.
static inline int sb_epoll_wait(int epfd, sb_epoll_ready *out, int max, long long timeout_ns) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n;
    if (timeout_ns < 0) {
        n = epoll_wait(epfd, evs, max, -1);
    } else {
        struct timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
        n = epoll_pwait2(epfd, evs, max, &ts, NULL);
        if (n < 0 && errno == ENOSYS) n = epoll_wait(epfd, evs, max, (int)((timeout_ns + 999999LL) / 1000000LL));
    }
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].fd = evs[i].data.fd;
    }
    return n;
}

static inline int sb_errno(void) { return errno; }

// accept4 is declared by <sys/socket.h> only under _GNU_SOURCE, which a module header must
// not define; glibc has exported it since 2.10.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/// Accepts one connection as a non-blocking, close-on-exec socket.
static inline int sb_accept(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

#endif
