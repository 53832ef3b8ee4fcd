/* bench.c: the Linux peer of Ferrite's benchmarks (programs/bench: the microbenchmarks of
 * main.rs, schemes.rs and ipc.rs, the scaling figure of scale.rs, disk.rs and net.rs), run as
 * /init of an initramfs by `cargo mk bench` (mk/src/linux.rs), which builds it with
 * `gcc -static -O2`.
 *
 * It loads the kernel modules mk put in /modules (in the order of their names, with
 * finit_module: no busybox, no modprobe), then prints one line per benchmark, in Ferrite's
 * format:
 *
 *     bench NAME: <ns per op> ns/op (<iterations> iterations)
 *
 * then `bench done`, and powers the machine off. As Ferrite's program does, it runs what the
 * machine allows: the disk benchmarks only if a virtio disk is there (mk attaches none to the
 * icount boot), the network ones only if a virtio network card is (sysfs's
 * /sys/bus/virtio/devices/ after the modules are loaded: device 2 is a disk, 1 a card).
 *
 * The microbenchmarks come first, each calibrated as Ferrite's are (a batch doubles until it takes
 * 1/200 of TARGET_NS, or the doubling has taken 1/5 of it, which is the warm-up; then whole
 * batches until TARGET_NS has passed) on CLOCK_MONOTONIC, which under `-icount shift=0`
 * counts instructions: getppid; two processes handing the CPU over with sched_yield (a round
 * trip is two hand-overs, counted as two operations, as Ferrite counts them); fork + _exit +
 * waitpid; fork + execve of this program with `--exit` + waitpid; for a scheme round trip a
 * 1-byte ping-pong over two pipes between two processes; for a scheme's open + 16-byte read
 * + close the same on a file of a tmpfs (mounted on /tmp); for a scheme read of 4 KiB or
 * 64 KiB a pread of that many bytes of a tmpfs file (the data comes from memory in both);
 * for a channel ping-pong a Unix stream socketpair ping-pong; for 64 KiB channel writes 64 KiB
 * pipe writes that a second process drains; for shm_pass_64k the same hand-over of 64 KiB
 * through a MAP_SHARED page set as Ferrite's (sched_yield); for shm_map_64k an mmap
 * (MAP_SHARED) of a 64 KiB tmpfs file, a write to each of its 16 pages and the munmap.
 *
 * Last, after the disks and the network, the scaling figure (scheme_scaling): as many pairs
 * of processes as CPUs, each pair a 1-byte ping-pong over two pipes (the peer of a client
 * calling its own scheme daemon), all started together; the aggregate ns per round trip
 * over TARGET_NS, with the processes counting in a shared page. mk boots it on 1, 2 and 4
 * CPUs and stops the machine once that line is in.
 *
 * The same workloads as Ferrite's: a 64 MiB file written (O_CREAT|O_TRUNC, buffered, no
 * O_DIRECT) in 4 KiB, 64 KiB or 1 MiB requests and then fsync'd, the fsync inside the
 * timing (Ferrite commits every write); the page cache dropped (sync, then
 * `echo 3 > /proc/sys/vm/drop_caches`) before it is read back, so reads come from the
 * device (with Linux's readahead); the same on the raw /dev/vdb; 1,000 files created,
 * 1 KiB written to each and closed, then one syncfs (timed, so the files are on the disk
 * as Ferrite's are); 500 times 1 KiB appended and fsync'd (append i is the i-th KiB of
 * the pattern). Every loop stops after
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
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define TOTAL (64u << 20)
#define SMALL_FILES 1000
#define SMALL_FILE 1024
#define FSYNCS 500
#define LIMIT_S 300.0
#define MAX_MODULES 64
#define NET_BULK (64u << 20)
#define ECHOES 500
#define CONNECTS 200
#define CONTROL_PORT 80
#define HTTP_IDLE_S 15
/* Measured time per microbenchmark, as Ferrite's TARGET. */
#define TARGET_NS 500e6
#define SCALE_WARMUP_NS 100e6
#define MAX_CLIENTS 16

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

/* TOTAL bytes written to `path` in `size`-byte requests, then fsync. Request i writes the
 * i-th `size` bytes of the pattern (wrapping), so no request repeats the one before it. */
static void seq_write(const char *name, const char *path, int flags, size_t size)
{
    int fd = open(path, flags, 0644);
    if (fd < 0)
        { failed(name, "open"); return; }
    unsigned long long ops = TOTAL / size;
    double start = now_ns();
    for (unsigned long long i = 0; i < ops; i++) {
        if (write(fd, pattern + (i * size) % sizeof pattern, size) != (ssize_t)size) {
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
        const char *append = pattern + ((size_t)i * SMALL_FILE) % (sizeof pattern - SMALL_FILE + 1);
        if (write(fd, append, SMALL_FILE) != SMALL_FILE) {
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


/* ---------------------------------------------------------------- microbenchmarks */

static const char *self_path = "/init";

static void micro_failed(const char *name, const char *what, int err)
{
    printf("bench %s: failed: %s: %s\n", name, what, strerror(err));
    fflush(stdout);
    all_ok = 0;
}

/* Ferrite's calibration around BODY (inlined), which may say FAIL("what") to stop; a
 * result of PER_OP operations per run of BODY. */
#define MEASURE(NAME, PER_OP, BODY)                                                             \
    do {                                                                                        \
        const char *why_ = NULL;                                                                \
        int errno_ = 0;                                                                         \
        unsigned long long batch_ = 1, ops_ = 0;                                                \
        double warm_ = now_ns(), start_, end_;                                                  \
        for (;;) {                                                                              \
            start_ = now_ns();                                                                  \
            for (unsigned long long i_ = 0; i_ < batch_ && !why_; i_++) { BODY; }               \
            end_ = now_ns();                                                                    \
            if (why_ || end_ - start_ >= TARGET_NS / 200 || end_ - warm_ >= TARGET_NS / 5)      \
                break;                                                                          \
            batch_ *= 2;                                                                        \
        }                                                                                       \
        start_ = end_ = now_ns();                                                               \
        while (!why_ && end_ - start_ < TARGET_NS) {                                            \
            for (unsigned long long i_ = 0; i_ < batch_ && !why_; i_++) { BODY; }               \
            ops_ += batch_;                                                                     \
            end_ = now_ns();                                                                    \
        }                                                                                       \
        if (why_)                                                                               \
            micro_failed(NAME, why_, errno_);                                                   \
        else                                                                                    \
            result(NAME, end_ - start_, ops_ * (PER_OP));                                       \
    } while (0)
#define FAIL(what) do { errno_ = errno; why_ = (what); } while (0)

static int wait_ok(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A shared page (inherited across fork), or NULL. */
static volatile unsigned long long *shared_page(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void bench_getppid(void)
{
    MEASURE("null_syscall_getppid", 1, { if (getppid() < 0) FAIL("getppid"); });
}

/* Ferrite's yield_pingpong: a turn counter in a shared page, odd turns the child's. */
static void bench_yield(void)
{
    const char *name = "yield_pingpong";
    volatile unsigned long long *w = shared_page(4096);
    if (!w)
        { micro_failed(name, "mmap", errno); return; }
    pid_t child = fork();
    if (child < 0)
        { micro_failed(name, "fork", errno); return; }
    if (child == 0) {
        for (;;) {
            unsigned long long seen = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
            if (__atomic_load_n(&w[1], __ATOMIC_ACQUIRE))
                _exit(0);
            if (seen % 2 == 1)
                __atomic_store_n(&w[0], seen + 1, __ATOMIC_RELEASE);
            sched_yield();
        }
    }
    MEASURE(name, 2, {
        unsigned long long mine = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) + 1;
        __atomic_store_n(&w[0], mine, __ATOMIC_RELEASE);
        for (unsigned long spins = 0; __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) == mine; spins++) {
            sched_yield();
            if (spins > 100000000UL) { errno = ETIMEDOUT; FAIL("no answer"); break; }
        }
    });
    __atomic_store_n(&w[1], 1, __ATOMIC_RELEASE);
    wait_ok(child);
    munmap((void *)w, 4096);
}

static void bench_fork_exit(void)
{
    MEASURE("fork_exit_wait", 1, {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        if (p < 0) FAIL("fork");
        else if (!wait_ok(p)) FAIL("waitpid");
    });
}

static void bench_fork_exec(void)
{
    char *argv[] = { (char *)self_path, "--exit", NULL };
    char *envp[] = { NULL };
    MEASURE("fork_exec_wait", 1, {
        pid_t p = fork();
        if (p == 0) {
            execve(self_path, argv, envp);
            _exit(127);
        }
        if (p < 0) FAIL("fork");
        else if (!wait_ok(p)) FAIL("exec or waitpid");
    });
}

/* A child echoing every byte from `in` to `out` until end-of-file. */
static pid_t echo_child(int in, int out, int close1, int close2)
{
    pid_t p = fork();
    if (p == 0) {
        if (close1 >= 0) close(close1);
        if (close2 >= 0) close(close2);
        char c;
        while (read(in, &c, 1) == 1)
            if (write(out, &c, 1) != 1)
                _exit(3);
        _exit(0);
    }
    return p;
}

/* scheme_read_1byte's peer: a byte out on one pipe and back on another. */
static void bench_pipe_pingpong(void)
{
    const char *name = "scheme_read_1byte";
    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0)
        { micro_failed(name, "pipe", errno); return; }
    pid_t child = echo_child(there[0], back[1], there[1], back[0]);
    if (child < 0)
        { micro_failed(name, "fork", errno); return; }
    close(there[0]);
    close(back[1]);
    char c = 0x42;
    MEASURE(name, 1, {
        if (write(there[1], &c, 1) != 1) FAIL("write");
        else if (read(back[0], &c, 1) != 1) FAIL("read");
    });
    close(there[1]);
    close(back[0]);
    wait_ok(child);
}

/* chan_pingpong_1byte's peer: the same over a Unix stream socketpair. */
static void bench_unix_pingpong(void)
{
    const char *name = "chan_pingpong_1byte";
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        { micro_failed(name, "socketpair", errno); return; }
    pid_t child = echo_child(sv[1], sv[1], sv[0], -1);
    if (child < 0)
        { micro_failed(name, "fork", errno); return; }
    close(sv[1]);
    char c = 0x42;
    MEASURE(name, 1, {
        if (write(sv[0], &c, 1) != 1) FAIL("write");
        else if (read(sv[0], &c, 1) != 1) FAIL("read");
    });
    close(sv[0]);
    wait_ok(child);
}

/* chan_write_64k's peer: 64 KiB writes into a pipe a child drains. */
static void bench_pipe_write(void)
{
    const char *name = "chan_write_64k";
    int fds[2];
    if (pipe(fds) != 0)
        { micro_failed(name, "pipe", errno); return; }
    pid_t child = fork();
    if (child < 0)
        { micro_failed(name, "fork", errno); return; }
    if (child == 0) {
        close(fds[1]);
        ssize_t n;
        while ((n = read(fds[0], buffer, 64 << 10)) > 0) {}
        _exit(n == 0 ? 0 : 3);
    }
    close(fds[0]);
    MEASURE(name, 1, { if (write_all(fds[1], pattern, 64 << 10) != 0) FAIL("write"); });
    close(fds[1]);
    wait_ok(child);
}

/* The tmpfs files of the file peers; 0 when they are there. */
static int tmpfs_files(void)
{
    mkdir("/tmp", 01777);
    if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL) != 0) {
        printf("bench: mount tmpfs on /tmp: %s\n", strerror(errno));
        return -1;
    }
    int fd = open("/tmp/small", O_CREAT | O_TRUNC | O_WRONLY, 0644);
    int ok = fd >= 0 && write_all(fd, pattern, 64 << 10) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

static void bench_open_read_close(void)
{
    char small[16];
    MEASURE("scheme_open_read_close", 1, {
        int fd = open("/tmp/small", O_RDONLY);
        if (fd < 0) FAIL("open");
        else {
            if (read(fd, small, sizeof small) != sizeof small) FAIL("read");
            if (close(fd) != 0) FAIL("close");
        }
    });
}

static void bench_pread(const char *name, size_t len)
{
    int fd = open("/tmp/small", O_RDONLY);
    if (fd < 0)
        { micro_failed(name, "open", errno); return; }
    MEASURE(name, 1, { if (pread(fd, buffer, len, 0) != (ssize_t)len) FAIL("pread"); });
    close(fd);
}

/* shm_pass_64k's peer: page 0 the turn (odd: the reader's) and the reader's sum, then 64 KiB. */
static void bench_shm_pass(void)
{
    const char *name = "shm_pass_64k";
    size_t words = (64 << 10) / 8;
    volatile unsigned long long *w = shared_page(4096 + (64 << 10));
    if (!w)
        { micro_failed(name, "mmap", errno); return; }
    volatile unsigned long long *data = w + 512;
    pid_t child = fork();
    if (child < 0)
        { micro_failed(name, "fork", errno); return; }
    if (child == 0) {
        for (unsigned long long expected = 1;; expected += 2) {
            for (unsigned long spins = 0; __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) != expected; spins++) {
                if (__atomic_load_n(&w[2], __ATOMIC_ACQUIRE))
                    _exit(0);
                sched_yield();
            }
            unsigned long long total = 0;
            for (size_t i = 0; i < words; i++)
                total += data[i];
            w[1] = total;
            __atomic_store_n(&w[0], expected + 1, __ATOMIC_RELEASE);
        }
    }
    unsigned long long round = 0;
    MEASURE(name, 1, {
        round++;
        for (size_t i = 0; i < words; i++)
            data[i] = round ^ i;
        unsigned long long mine = __atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
        __atomic_store_n(&w[0], mine + 1, __ATOMIC_RELEASE);
        for (unsigned long spins = 0; __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) != mine + 2; spins++) {
            sched_yield();
            if (spins > 100000000UL) { errno = ETIMEDOUT; FAIL("no answer"); break; }
        }
        unsigned long long want = 0;
        for (size_t i = 0; i < words; i++)
            want += round ^ i;
        if (!why_ && w[1] != want) { errno = EIO; FAIL("the peer read other bytes"); }
    });
    __atomic_store_n(&w[2], 1, __ATOMIC_RELEASE);
    wait_ok(child);
    munmap((void *)w, 4096 + (64 << 10));
}

static void bench_shm_map(void)
{
    int fd = open("/tmp/small", O_RDWR);
    if (fd < 0)
        { micro_failed("shm_map_64k", "open", errno); return; }
    MEASURE("shm_map_64k", 1, {
        volatile char *p = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) FAIL("mmap");
        else {
            for (int page = 0; page < 16; page++)
                p[page * 4096] = 1;
            if (munmap((void *)p, 64 << 10) != 0) FAIL("munmap");
        }
    });
    close(fd);
}

static void micro(void)
{
    bench_getppid();
    bench_yield();
    bench_fork_exit();
    bench_fork_exec();
    bench_pipe_pingpong();
    int files = tmpfs_files();
    const char *file_rows[] = { "scheme_open_read_close", "scheme_read_4k", "scheme_read_64k" };
    if (files == 0) {
        bench_open_read_close();
        bench_pread("scheme_read_4k", 4 << 10);
        bench_pread("scheme_read_64k", 64 << 10);
    } else {
        for (int i = 0; i < 3; i++)
            micro_failed(file_rows[i], "no tmpfs file", errno);
    }
    bench_unix_pingpong();
    bench_pipe_write();
    bench_shm_pass();
    if (files == 0)
        bench_shm_map();
    else
        micro_failed("shm_map_64k", "no tmpfs file", errno);
}

/* ---------------------------------------------------------------- scaling */

/* One pair: the client's byte out and back through its echo child, counting round trips in
 * its own cache line of the shared page until told to stop. */
static void scale_client(volatile unsigned long long *w, int k)
{
    int there[2], back[2];
    if (pipe(there) != 0 || pipe(back) != 0)
        _exit(2);
    pid_t echo = echo_child(there[0], back[1], there[1], back[0]);
    if (echo < 0)
        _exit(2);
    close(there[0]);
    close(back[1]);
    __atomic_fetch_add(&w[0], 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&w[1], __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&w[2], __ATOMIC_ACQUIRE))
            break;
        sched_yield();
    }
    unsigned long long calls = 0;
    char c = 1;
    int code = 0;
    while (!__atomic_load_n(&w[2], __ATOMIC_ACQUIRE)) {
        if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
            { code = 3; break; }
        calls++;
        __atomic_store_n(&w[8 * (k + 1)], calls, __ATOMIC_RELAXED);
    }
    close(there[1]);
    close(back[0]);
    if (!wait_ok(echo))
        code = 3;
    _exit(code);
}

static void scaling(void)
{
    const char *name = "scheme_scaling";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus < 1 ? 1 : cpus > MAX_CLIENTS ? MAX_CLIENTS : (int)cpus;
    volatile unsigned long long *w = shared_page(4096);
    if (!w)
        { micro_failed(name, "mmap", errno); return; }
    pid_t clients[MAX_CLIENTS];
    int started = 0;
    for (; started < n; started++) {
        clients[started] = fork();
        if (clients[started] == 0)
            scale_client(w, started);
        if (clients[started] < 0)
            break;
    }
    for (int i = 0; i < 1000000 && __atomic_load_n(&w[0], __ATOMIC_ACQUIRE) < (unsigned long long)n; i++)
        sched_yield();
    int ready = (int)__atomic_load_n(&w[0], __ATOMIC_ACQUIRE);
    double start = 0, end = 0;
    unsigned long long before = 0, after = 0;
    if (ready == n) {
        __atomic_store_n(&w[1], 1, __ATOMIC_RELEASE);
        struct timespec warm = { 0, (long)SCALE_WARMUP_NS }, window = { 0, (long)TARGET_NS };
        nanosleep(&warm, NULL);
        start = now_ns();
        for (int k = 0; k < n; k++)
            before += __atomic_load_n(&w[8 * (k + 1)], __ATOMIC_RELAXED);
        nanosleep(&window, NULL);
        end = now_ns();
        printf("bench: scheme_scaling: %d pipe ping-pong pairs, round trips per pair since the start:", n);
        for (int k = 0; k < n; k++) {
            unsigned long long calls = __atomic_load_n(&w[8 * (k + 1)], __ATOMIC_RELAXED);
            after += calls;
            printf(" %llu", calls);
        }
        printf("\n");
    }
    __atomic_store_n(&w[2], 1, __ATOMIC_RELEASE);
    int all_well = 1;
    for (int k = 0; k < started; k++)
        all_well &= wait_ok(clients[k]);
    munmap((void *)w, 4096);
    if (ready != n)
        micro_failed(name, "not every pair started", ECHILD);
    else if (!all_well || after <= before)
        micro_failed(name, "a pair failed", EIO);
    else
        result(name, end - start, after - before);
}

/* ---------------------------------------------------------------- main */

/* How many virtio devices of type `type` (1: network card, 2: disk) the kernel found. */
static int virtio_devices(int type)
{
    DIR *dir = opendir("/sys/bus/virtio/devices");
    if (!dir)
        return 0;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.')
            continue;
        char path[300], text[32] = "";
        snprintf(path, sizeof path, "/sys/bus/virtio/devices/%s/device", entry->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        if (n > 0 && strtol(text, NULL, 0) == type)
            count++;
    }
    closedir(dir);
    return count;
}

static void disks(void)
{
    if (virtio_devices(2) < 2) {
        printf("bench: fewer than two virtio disks; the disk benchmarks are skipped\n");
        return;
    }
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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--exit") == 0)
        return 0;
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    printf("bench: Linux benchmarks, %.0f ms each, %ld CPUs\n", TARGET_NS / 1e6, sysconf(_SC_NPROCESSORS_ONLN));
    /* The pattern is filled after the microbenchmarks: 1 MiB of touched pages would make
     * every fork copy their page table entries (Ferrite's program has no such array); until
     * then the rows that write it send zeroes. */
    micro();
    /* Incompressible, and the same bytes as Ferrite's (programs/bench/src/disk.rs,
     * `incompressible`): a xorshift64 stream. */
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof pattern; i += 8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        memcpy(pattern + i, &state, 8);
    }
    load_modules();
    disks();
    if (virtio_devices(1) > 0)
        network();
    else
        printf("bench: no virtio network card; the network benchmarks are skipped\n");
    scaling();
    finish();
    return 0;
}
