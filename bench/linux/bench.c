/* bench.c: the Linux peer of Ferrite's disk and network benchmarks
 * (programs/bench/src/disk.rs and net.rs), run as /init of an initramfs by `cargo mk bench`
 * (mk/src/linux.rs), which builds it with `gcc -static -O2`.
 *
 * It loads the kernel modules mk put in /modules (in the order of their names, with
 * finit_module: no busybox, no modprobe), mounts the ext4 file system mk made on the
 * first virtio disk (/dev/vda) at /mnt and uses the second (/dev/vdb) raw, then prints
 * one line per benchmark, in Ferrite's format:
 *
 *     bench NAME: <ns per op> ns/op (<iterations> iterations)
 *
 * then `bench done`, and powers the machine off.
 *
 * The same workloads as Ferrite's: a 64 MiB file written (O_CREAT|O_TRUNC, buffered, no
 * O_DIRECT) in 4 KiB, 64 KiB or 1 MiB requests and then fsync'd, the fsync inside the
 * timing (Ferrite commits every write); the page cache dropped (sync, then
 * `echo 3 > /proc/sys/vm/drop_caches`) before it is read back, so reads come from the
 * device (with Linux's readahead); the same on the raw /dev/vdb; 1,000 files created,
 * 1 KiB written to each and closed, then one syncfs (timed, so the files are on the disk
 * as Ferrite's are); 500 times 1 KiB appended and fsync'd. Every loop stops after
 * LIMIT_S seconds and the benchmark then reports a failure.
 *
 * The network benchmarks hold the same conversation with mk's peers (mk/src/netbench.rs)
 * as Ferrite's: eth0 (virtio_net) gets 10.0.2.15/24 and the default route via 10.0.2.2
 * by ioctls (no DHCP client); it listens on port 80, prints `bench net: ready on port 80`,
 * takes `peer PORT` from mk, times ECHOES pings (a raw ICMP socket) and CONNECTS
 * connections to the peer, sends and receives NET_BULK bytes (mk times those), then
 * serves /www/small.html over HTTP on port 80 from a forked child (serve_http: one
 * connection at a time, keep-alive unless the client says `Connection: close` or
 * speaks HTTP/1.0, the file opened and read per request as Ferrite's httpd does) until
 * mk says `done`. busybox httpd is not used: it answers one request per connection, so
 * it would have no keep-alive row. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TOTAL (64u << 20)
#define SMALL_FILES 1000
#define SMALL_FILE 1024
#define FSYNCS 500
#define LIMIT_S 300.0
#define MAX_MODULES 64
#define NET_BULK (64u << 20)
#define ECHOES 20
#define CONNECTS 200
#define CONTROL_PORT 80
#define HTTP_IDLE_S 15

static char pattern[1 << 20];
static char buffer[1 << 20];
static int all_ok = 1;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void result(const char *name, double ns, unsigned long long ops)
{
    printf("bench %s: %.1f ns/op (%llu iterations)\n", name, ns / (double)ops, ops);
    fflush(stdout);
}

static void failed(const char *name, const char *what)
{
    printf("bench %s: failed: %s: %s\n", name, what, strerror(errno));
    fflush(stdout);
    all_ok = 0;
}

static void too_slow(const char *name, unsigned long long done, unsigned long long of)
{
    printf("bench %s: failed: only %llu of %llu requests within %.0f s\n", name, done, of, LIMIT_S);
    fflush(stdout);
    all_ok = 0;
}

static void drop_caches(void)
{
    sync();
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "3\n", 2) != 2)
        printf("bench: cannot drop the page cache: %s\n", strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* TOTAL bytes written to `path` in `size`-byte requests, then fsync. */
static void seq_write(const char *name, const char *path, int flags, size_t size)
{
    int fd = open(path, flags, 0644);
    if (fd < 0)
        { failed(name, "open"); return; }
    unsigned long long ops = TOTAL / size;
    double start = now_ns();
    for (unsigned long long i = 0; i < ops; i++) {
        if (write(fd, pattern, size) != (ssize_t)size) {
            close(fd);
            { failed(name, "write"); return; }
        }
        if (i % 16 == 15 && now_ns() - start > LIMIT_S * 1e9) {
            close(fd);
            { too_slow(name, i + 1, ops); return; }
        }
    }
    if (fsync(fd) != 0) {
        close(fd);
        { failed(name, "fsync"); return; }
    }
    result(name, now_ns() - start, ops);
    close(fd);
}

/* TOTAL bytes read from `path` in `size`-byte requests, after dropping the caches. */
static void seq_read(const char *name, const char *path, size_t size)
{
    drop_caches();
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        { failed(name, "open"); return; }
    unsigned long long ops = TOTAL / size;
    double start = now_ns();
    for (unsigned long long i = 0; i < ops; i++) {
        if (read(fd, buffer, size) != (ssize_t)size) {
            close(fd);
            { failed(name, "read"); return; }
        }
        if (i % 16 == 15 && now_ns() - start > LIMIT_S * 1e9) {
            close(fd);
            { too_slow(name, i + 1, ops); return; }
        }
    }
    result(name, now_ns() - start, ops);
    close(fd);
}

static void create_files(void)
{
    const char *name = "file_create_1k";
    if (mkdir("/mnt/small", 0755) != 0 && errno != EEXIST)
        { failed(name, "mkdir"); return; }
    char path[64];
    double start = now_ns();
    for (int i = 0; i < SMALL_FILES; i++) {
        snprintf(path, sizeof path, "/mnt/small/f%d", i);
        int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0)
            { failed(name, "create"); return; }
        if (write(fd, pattern, SMALL_FILE) != SMALL_FILE) {
            close(fd);
            { failed(name, "write"); return; }
        }
        if (close(fd) != 0)
            { failed(name, "close"); return; }
        if (now_ns() - start > LIMIT_S * 1e9)
            { too_slow(name, i + 1, SMALL_FILES); return; }
    }
    int dir = open("/mnt/small", O_RDONLY | O_DIRECTORY);
    if (dir < 0 || syncfs(dir) != 0)
        { failed(name, "syncfs"); return; }
    close(dir);
    result(name, now_ns() - start, SMALL_FILES);
}

static void fsync_loop(void)
{
    const char *name = "file_fsync_1k";
    int fd = open("/mnt/sync", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        { failed(name, "create"); return; }
    double start = now_ns();
    for (int i = 0; i < FSYNCS; i++) {
        if (write(fd, pattern, SMALL_FILE) != SMALL_FILE) {
            close(fd);
            { failed(name, "write"); return; }
        }
        if (fsync(fd) != 0) {
            close(fd);
            { failed(name, "fsync"); return; }
        }
        if (now_ns() - start > LIMIT_S * 1e9) {
            close(fd);
            { too_slow(name, i + 1, FSYNCS); return; }
        }
    }
    result(name, now_ns() - start, FSYNCS);
    close(fd);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* finit_module every .ko file in /modules, in name order (mk numbers them). */
static void load_modules(void)
{
    DIR *dir = opendir("/modules");
    if (!dir) {
        printf("bench: no /modules: %s\n", strerror(errno));
        return;
    }
    char *names[MAX_MODULES];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) && count < MAX_MODULES)
        if (strstr(entry->d_name, ".ko"))
            names[count++] = strdup(entry->d_name);
    closedir(dir);
    qsort(names, count, sizeof names[0], by_name);
    int loaded = 0;
    for (int i = 0; i < count; i++) {
        char path[300];
        snprintf(path, sizeof path, "/modules/%s", names[i]);
        int fd = open(path, O_RDONLY);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST))
            printf("bench: loading %s: %s\n", names[i], strerror(errno));
        else
            loaded++;
        if (fd >= 0)
            close(fd);
    }
    printf("bench: %d of %d kernel modules loaded\n", loaded, count);
}

/* Whether `path` appeared within `seconds` (the disks are probed asynchronously). */
static int wait_for(const char *path, double seconds)
{
    double start = now_ns();
    struct stat st;
    for (int i = 0; i < 10000; i++) {
        if (stat(path, &st) == 0)
            return 1;
        if (now_ns() - start > seconds * 1e9)
            return 0;
        usleep(10000);
    }
    return 0;
}

static void finish(void)
{
    printf("bench done\n");
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    _exit(all_ok ? 0 : 1);
}

/* ---------------------------------------------------------------- network */

static void net_failed(const char *name, const char *what)
{
    printf("bench %s: failed: %s\n", name, what);
    fflush(stdout);
    all_ok = 0;
}

static int set_ifaddr(int s, const char *ifname, unsigned long request, const char *addr)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, addr, &sin->sin_addr);
    return ioctl(s, request, &ifr);
}

static int if_up(int s, const char *ifname)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0)
        return -1;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* lo and eth0 up, eth0 10.0.2.15/24, the default route via 10.0.2.2. */
static int net_up(void)
{
    if (!wait_for("/sys/class/net/eth0", 20)) {
        printf("bench: no eth0: %s\n", strerror(errno));
        return -1;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -1;
    int ok = if_up(s, "lo") == 0 && set_ifaddr(s, "eth0", SIOCSIFADDR, "10.0.2.15") == 0
        && set_ifaddr(s, "eth0", SIOCSIFNETMASK, "255.255.255.0") == 0 && if_up(s, "eth0") == 0;
    if (ok) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
        struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
        struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
        dst->sin_family = gw->sin_family = mask->sin_family = AF_INET;
        inet_pton(AF_INET, "10.0.2.2", &gw->sin_addr);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        ok = ioctl(s, SIOCADDRT, &rt) == 0;
    }
    if (!ok)
        printf("bench: configuring eth0: %s\n", strerror(errno));
    close(s);
    return ok ? 0 : -1;
}

/* Whether `fd` has `events` within `ms` milliseconds. */
static int wait_fd(int fd, short events, int ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    for (int i = 0; i < 100; i++) {
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 1;
        if (n == 0 || errno != EINTR)
            return 0;
    }
    return 0;
}

/* A line from `fd` within `seconds` (without its newline); -1 on error, end or time. */
static int read_line(int fd, char *line, size_t size, int seconds)
{
    size_t len = 0;
    double start = now_ns();
    while (len + 1 < size) {
        double left_ms = seconds * 1e3 - (now_ns() - start) / 1e6;
        if (left_ms <= 0 || !wait_fd(fd, POLLIN, (int)left_ms))
            return -1;
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n <= 0)
            return -1;
        if (c == '\n')
            break;
        line[len++] = c;
    }
    line[len] = 0;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static struct sockaddr_in host_addr(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    inet_pton(AF_INET, "10.0.2.2", &a.sin_addr);
    return a;
}

static int connect_peer(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    struct timeval tv = { .tv_sec = 60 };
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = host_addr(port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return -1;
    }
    return s;
}

static unsigned short icmp_sum(const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned long sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (p[i] << 8) | p[i + 1];
    if (len & 1)
        sum += p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((unsigned short)~sum);
}

/* One untimed echo to 10.0.2.2, then ECHOES timed ones. */
static void ping(void)
{
    const char *name = "net_ping";
    int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    if (s < 0)
        { failed(name, "socket"); return; }
    struct sockaddr_in to = host_addr(0);
    double total = 0;
    for (int seq = 0; seq <= ECHOES; seq++) {
        unsigned char packet[64];
        memset(packet, 0x5a, sizeof packet);
        struct icmphdr *h = (struct icmphdr *)packet;
        h->type = ICMP_ECHO;
        h->code = 0;
        h->checksum = 0;
        h->un.echo.id = htons(0x4242);
        h->un.echo.sequence = htons(seq);
        h->checksum = icmp_sum(packet, sizeof packet);
        double start = now_ns();
        if (sendto(s, packet, sizeof packet, 0, (struct sockaddr *)&to, sizeof to) != sizeof packet)
            { close(s); failed(name, "sendto"); return; }
        int answered = 0;
        for (int tries = 0; tries < 100 && !answered; tries++) {
            double left_ms = 5000 - (now_ns() - start) / 1e6;
            if (left_ms <= 0 || !wait_fd(s, POLLIN, (int)left_ms))
                break;
            unsigned char reply[256];
            ssize_t n = recv(s, reply, sizeof reply, 0);
            if (n < 20)
                continue;
            size_t ihl = (reply[0] & 0xf) * 4;
            struct icmphdr *r = (struct icmphdr *)(reply + ihl);
            answered = (size_t)n >= ihl + 8 && r->type == ICMP_ECHOREPLY && r->un.echo.sequence == htons(seq);
        }
        if (!answered)
            { close(s); net_failed(name, "no echo reply within 5 s"); return; }
        if (seq > 0)
            total += now_ns() - start;
    }
    close(s);
    result(name, total, ECHOES);
}

/* CONNECTS connections to the peer, each opened and closed. */
static void connects(int port)
{
    const char *name = "net_tcp_connect";
    double start = now_ns();
    for (int i = 0; i < CONNECTS; i++) {
        int s = connect_peer(port);
        if (s < 0)
            { failed(name, "connect"); return; }
        close(s);
        if (now_ns() - start > LIMIT_S * 1e9)
            { too_slow(name, i + 1, CONNECTS); return; }
    }
    result(name, now_ns() - start, CONNECTS);
}

/* The peer's `got N` to the end of the stream: N, or -1. */
static long long got(int s)
{
    char answer[64];
    size_t len = 0;
    ssize_t n;
    while (len + 1 < sizeof answer && (n = read(s, answer + len, sizeof answer - 1 - len)) > 0)
        len += n;
    answer[len] = 0;
    long long count;
    return sscanf(answer, "got %lld", &count) == 1 ? count : -1;
}

/* NET_BULK bytes to the peer's sink (mk times them). */
static void send_bulk(int port)
{
    const char *name = "net_tcp_guest_to_host";
    int s = connect_peer(port);
    if (s < 0)
        { failed(name, "connect"); return; }
    if (write_all(s, "sink\n", 5) != 0)
        { close(s); failed(name, "write"); return; }
    for (unsigned i = 0; i < NET_BULK / (64u << 10); i++)
        if (write_all(s, pattern, 64u << 10) != 0)
            { close(s); failed(name, "write"); return; }
    shutdown(s, SHUT_WR);
    long long n = got(s);
    close(s);
    if (n != NET_BULK)
        net_failed(name, "the sink did not get every byte");
}

/* NET_BULK bytes from the peer's source, counted to the end. */
static void receive_bulk(int port)
{
    const char *name = "net_tcp_host_to_guest";
    int s = connect_peer(port);
    if (s < 0)
        { failed(name, "connect"); return; }
    if (write_all(s, "source\n", 7) != 0)
        { close(s); failed(name, "write"); return; }
    unsigned long long total = 0;
    ssize_t n;
    for (int i = 0; i < 1 << 24 && (n = read(s, buffer, 64u << 10)) > 0; i++)
        total += n;
    char line[64];
    snprintf(line, sizeof line, "got %llu\n", total);
    write_all(s, line, strlen(line));
    close(s);
    if (total != NET_BULK)
        net_failed(name, "did not get every byte");
}

/* Whether the request head `head` keeps its connection open. */
static int keeps_alive(const char *head)
{
    const char *eol = strstr(head, "\r\n");
    int http10 = eol && eol - head >= 8 && strncmp(eol - 8, "HTTP/1.0", 8) == 0;
    const char *c = strcasestr(head, "\r\nConnection:");
    if (c) {
        const char *end = strstr(c + 2, "\r\n");
        char value[128] = "";
        size_t len = end ? (size_t)(end - c - 13) : 0;
        if (len >= sizeof value)
            len = sizeof value - 1;
        memcpy(value, c + 13, len);
        value[len] = 0;
        if (strcasestr(value, "close"))
            return 0;
        if (strcasestr(value, "keep-alive"))
            return 1;
    }
    return !http10;
}

/* One connection: requests until the client closes, asks to, or idles HTTP_IDLE_S. */
static void serve_conn(int c)
{
    static char head[16384];
    static char out[65536];
    size_t len = 0;
    struct timeval tv = { .tv_sec = HTTP_IDLE_S };
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int requests = 0; requests < 1000000; requests++) {
        char *end;
        while (!(head[len] = 0, end = strstr(head, "\r\n\r\n"))) {
            if (len + 1 >= sizeof head)
                return;
            ssize_t n = read(c, head + len, sizeof head - 1 - len);
            if (n <= 0)
                return;
            len += n;
        }
        size_t used = end + 4 - head;
        char method[16], target[256];
        int keep = keeps_alive(head);
        int code = 200;
        size_t body = 0;
        if (sscanf(head, "%15s %255s", method, target) != 2 || strcmp(method, "GET") != 0) {
            code = 400;
            keep = 0;
        } else {
            char path[300];
            snprintf(path, sizeof path, "/www%s", target);
            int fd = strstr(target, "..") ? -1 : open(path, O_RDONLY);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > (off_t)(sizeof out - 512))
                code = 404;
            else {
                int hl = snprintf(out, 512, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %lld\r\n"
                                  "Connection: %s\r\nServer: bench.c\r\n\r\n",
                                  (long long)st.st_size, keep ? "keep-alive" : "close");
                ssize_t n = read(fd, out + hl, st.st_size);
                body = n == st.st_size ? (size_t)hl + st.st_size : 0;
                if (!body)
                    code = 500;
            }
            if (fd >= 0)
                close(fd);
        }
        if (code != 200) {
            const char *text = code == 404 ? "404 Not Found" : code == 400 ? "400 Bad Request" : "500 Error";
            body = snprintf(out, sizeof out, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n%s\n",
                            text, strlen(text) + 1, keep ? "keep-alive" : "close", text);
        }
        if (write_all(c, out, body) != 0 || !keep)
            return;
        memmove(head, head + used, len - used);
        len -= used;
    }
}

/* The HTTP server of the forked child, on `listener`, until it is killed. */
static void serve_http(int listener)
{
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve_conn(c);
        close(c);
    }
}

static int listen_on(int port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    return s;
}

static void network(void)
{
    static const char *rows[] = { "net_ping", "net_tcp_connect", "net_tcp_guest_to_host",
                                  "net_tcp_host_to_guest", "net_http_close", "net_http_keepalive" };
    const char *why = NULL;
    if (net_up() != 0)
        why = "no network (eth0 not configured)";
    int listener = why ? -1 : listen_on(CONTROL_PORT);
    if (!why && listener < 0)
        why = "cannot listen on port 80";
    int control = -1;
    char line[256];
    int port = 0;
    if (!why) {
        printf("bench net: ready on port %d\n", CONTROL_PORT);
        fflush(stdout);
        if (!wait_fd(listener, POLLIN, 120000) || (control = accept(listener, NULL, NULL)) < 0)
            why = "the host did not connect within 120 s";
        else if (read_line(control, line, sizeof line, 60) != 0 || sscanf(line, "peer %d", &port) != 1)
            why = "the host did not say `peer PORT`";
    }
    if (why) {
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            net_failed(rows[i], why);
        if (listener >= 0)
            close(listener);
        if (control >= 0)
            close(control);
        return;
    }
    ping();
    connects(port);
    send_bulk(port);
    receive_bulk(port);
    close(listener);
    int http = listen_on(CONTROL_PORT);
    if (http < 0) {
        printf("bench: cannot listen on port 80 for HTTP: %s\n", strerror(errno));
        close(control);
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(control);
        serve_http(http);
        _exit(0);
    }
    close(http);
    write_all(control, "httpd\n", 6);
    if (read_line(control, line, sizeof line, 600) != 0 || strcmp(line, "done") != 0)
        printf("bench: the host did not say `done` after the HTTP rows\n");
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    close(control);
}

/* ---------------------------------------------------------------- main */

static void disks(void)
{
    if (!wait_for("/dev/vda", 20) || !wait_for("/dev/vdb", 20)) {
        printf("bench: no /dev/vda and /dev/vdb; the disk benchmarks are skipped\n");
        return;
    }
    if (mount("/dev/vda", "/mnt", "ext4", 0, NULL) != 0) {
        printf("bench: mount /dev/vda (ext4) on /mnt: %s\n", strerror(errno));
        return;
    }
    static const struct { size_t size; const char *suffix; } sizes[] = {
        { 4 << 10, "4k" }, { 64 << 10, "64k" }, { 1 << 20, "1m" },
    };
    char name[64];
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "file_write_%s", sizes[i].suffix);
        seq_write(name, "/mnt/seq", O_CREAT | O_TRUNC | O_WRONLY, sizes[i].size);
        snprintf(name, sizeof name, "file_read_%s", sizes[i].suffix);
        seq_read(name, "/mnt/seq", sizes[i].size);
        unlink("/mnt/seq");
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "disk_write_%s", sizes[i].suffix);
        seq_write(name, "/dev/vdb", O_WRONLY, sizes[i].size);
        snprintf(name, sizeof name, "disk_read_%s", sizes[i].suffix);
        seq_read(name, "/dev/vdb", sizes[i].size);
    }
    sync();
    create_files();
    fsync_loop();
    umount("/mnt");
}

int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("bench: Linux disk and network benchmarks\n");
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(i * 7 % 251);
    load_modules();
    disks();
    network();
    finish();
    return 0;
}
