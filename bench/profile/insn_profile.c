/* insn_profile.c: a QEMU TCG plugin that counts the guest instructions every
 * translated block executes, for `cargo mk bench --profile` (mk/src/profile.rs).
 *
 * Each translated block gets a record (its guest virtual address, its number of
 * instructions, the first bytes of its code) and an inline counter that adds the
 * block's instruction count each time it runs (no callback into the plugin on the
 * hot path). A thread writes the counters that changed to the output file every
 * `period_ms` milliseconds of host time, each snapshot stamped with the host's
 * monotonic clock, so mk can take the difference over the time one benchmark ran
 * (it stamps the serial lines with the same clock). The code bytes let mk tell
 * apart two programs linked at the same address (all of Ferrite's are): it
 * matches them against each binary's bytes there.
 *
 * Built by mk with `gcc -shared -fPIC -O2`; loaded with
 * `-plugin FILE,out=PATH,period_ms=N`. Only the part of QEMU's plugin ABI (version 1,
 * QEMU 7.2) this file uses is declared here.
 *
 * Output lines:
 *   start NANOSECONDS                the plugin was loaded (CLOCK_MONOTONIC)
 *   def INDEX VADDR INSNS HEXBYTES   a block translated since the last snapshot
 *   snap NANOSECONDS                 a snapshot starts (CLOCK_MONOTONIC)
 *   c INDEX COUNT                    a block's instructions executed so far
 *
 * Counts are approximate where a block is left early (an exception or interrupt in
 * the middle of it): the whole block is counted.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The plugin ABI, version 1. */
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* Bytes of code kept per block: enough to tell two binaries apart. */
#define CODE_BYTES 16

struct block {
    uint64_t count; /* first: the inline add's target */
    uint64_t vaddr;
    uint64_t insns;
    uint64_t dumped;
    unsigned char code[CODE_BYTES];
    unsigned code_len;
};

/* Blocks live in chunks that never move (the inline adds point into them). */
#define CHUNK 4096
static struct block **chunks;
static size_t nchunks, nblocks, ndefined;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;
static unsigned period_ms = 200;
static volatile int stopping;
static pthread_t dumper;

static struct block *new_block(void)
{
    if (nblocks == nchunks * CHUNK) {
        chunks = realloc(chunks, (nchunks + 1) * sizeof *chunks);
        chunks[nchunks] = calloc(CHUNK, sizeof(struct block));
        if (!chunks || !chunks[nchunks]) {
            fprintf(stderr, "insn_profile: out of memory\n");
            abort();
        }
        nchunks++;
    }
    struct block *b = &chunks[nblocks / CHUNK][nblocks % CHUNK];
    nblocks++;
    return b;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    pthread_mutex_lock(&lock);
    struct block *b = new_block();
    b->vaddr = qemu_plugin_tb_vaddr(tb);
    b->insns = n;
    b->code_len = 0;
    for (size_t i = 0; i < n && b->code_len < CODE_BYTES; i++) {
        const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const unsigned char *data = qemu_plugin_insn_data(insn);
        size_t size = qemu_plugin_insn_size(insn);
        for (size_t j = 0; j < size && b->code_len < CODE_BYTES; j++)
            b->code[b->code_len++] = data[j];
    }
    pthread_mutex_unlock(&lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->count, n);
}

static void snapshot(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&lock);
    for (; ndefined < nblocks; ndefined++) {
        struct block *b = &chunks[ndefined / CHUNK][ndefined % CHUNK];
        fprintf(out, "def %zu %" PRIx64 " %" PRIu64 " ", ndefined, b->vaddr, b->insns);
        for (unsigned i = 0; i < b->code_len; i++)
            fprintf(out, "%02x", b->code[i]);
        fputc('\n', out);
    }
    fprintf(out, "snap %lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    for (size_t i = 0; i < nblocks; i++) {
        struct block *b = &chunks[i / CHUNK][i % CHUNK];
        uint64_t count = __atomic_load_n(&b->count, __ATOMIC_RELAXED);
        if (count != b->dumped) {
            fprintf(out, "c %zu %" PRIu64 "\n", i, count);
            b->dumped = count;
        }
    }
    pthread_mutex_unlock(&lock);
    fflush(out);
}

static void *dump_loop(void *arg)
{
    (void)arg;
    while (!stopping) {
        usleep(period_ms * 1000);
        snapshot();
    }
    return NULL;
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    stopping = 1;
    pthread_join(dumper, NULL);
    snapshot();
    fclose(out);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info;
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0)
            path = argv[i] + 4;
        else if (strncmp(argv[i], "period_ms=", 10) == 0)
            period_ms = (unsigned)atoi(argv[i] + 10);
        else {
            fprintf(stderr, "insn_profile: unknown argument %s\n", argv[i]);
            return -1;
        }
    }
    if (!path || period_ms == 0) {
        fprintf(stderr, "insn_profile: wants out=PATH (and period_ms=N > 0)\n");
        return -1;
    }
    out = fopen(path, "w");
    if (!out) {
        perror(path);
        return -1;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    fprintf(out, "start %lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    pthread_create(&dumper, NULL, dump_loop, NULL);
    return 0;
}
