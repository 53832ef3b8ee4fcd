/* bench.c: the Linux peer of Ferrite's disk benchmarks (programs/bench/src/disk.rs),
 * run as /init of an initramfs by `cargo mk bench` (mk/src/linux.rs), which builds it
 * with `gcc -static -O2`.
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
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TOTAL (64u << 20)
#define SMALL_FILES 1000
#define SMALL_FILE 1024
#define FSYNCS 500
#define LIMIT_S 300.0
#define MAX_MODULES 64

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

int main(void)
{
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench: Linux disk benchmarks\n");
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (char)(i * 7 % 251);
    load_modules();
    if (!wait_for("/dev/vda", 20) || !wait_for("/dev/vdb", 20)) {
        printf("bench: no /dev/vda and /dev/vdb; the disk benchmarks are skipped\n");
        finish();
    }
    if (mount("/dev/vda", "/mnt", "ext4", 0, NULL) != 0) {
        printf("bench: mount /dev/vda (ext4) on /mnt: %s\n", strerror(errno));
        finish();
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
    finish();
    return 0;
}
