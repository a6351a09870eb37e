// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the in-kernel HTTP/1.x parser (kern/http1.bpf.h),
 * compiled unchanged against selftests/shim/bpf_shim.h. One input is one
 * connection: its first bytes say how the rest, the payload, is cut into
 * reads and writes and in which direction each goes; the connection is then
 * closed. Invariants are checked after every call (see check_conn()).
 *
 * Input layout:
 *   [0]      setup: bits 0-1 role (0 adopted, 1 client, 2-3 server);
 *            bit 2: poison the scratch memory before every call and check the
 *            result is what a run with zeroed scratch gives (the parser must
 *            not depend on what an earlier run left there); bit 3: part of one
 *            write faults; bits 4-7: which control's write
 *   [1]      where in that write the unreadable bytes start, in 256ths
 *   [2..9]   the poison pattern
 *   [10]     number of controls (mod 33)
 *   then 2 bytes per control:
 *            [a] bit 7 direction (1: TX); bits 5-6 mode: 0 one write,
 *                1 the same bytes written 1 + r*r times, 2 as many copies in
 *                one write (at most 64 KiB), 3 sendfile of len * (r + 1) bytes
 *                (no payload used); bits 0-4 r
 *            [b] length of the piece of payload, 0 for all that is left
 *   then the payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_shim.h"
#include "http1.bpf.h"

#define CONN_KEY 0xffff888000001000ULL
#define TID 101
#define HDR_LEN 11
#define MAX_CTL 32
#define MAX_SEG 65536

struct input {
	__u8 role;
	int poison;
	int fault;
	unsigned int fault_ctl;
	unsigned int fault_at; /* in 256ths of the write */
	__u8 pattern[8];
	unsigned int nctl;
	const __u8 *ctl; /* 2 * nctl bytes */
	const __u8 *payload;
	size_t len;
};

/* Series of the run without poison, for the comparison. */
struct series_copy {
	struct kerno_series_key key;
	struct kerno_series_val val;
};

struct outcome {
	struct kerno_conn conn; /* as it was before the close */
	__u64 counters[KERNO_COUNTER__COUNT];
	__u32 nseries;
	struct series_copy *series;
};

static struct kerno_conn *conn(void);

static void broken(const char *what, int line)
{
	const struct kerno_conn *c = conn();
	int i;

	fprintf(stderr, "fuzz_http1: invariant broken at line %d: %s\n", line, what);
	if (c) {
		fprintf(stderr, "conn: role %u fifo %u..%u\n", c->role, c->fifo_head, c->fifo_tail);
		for (i = 0; i < 2; i++)
			fprintf(stderr,
				"dir %d: state %u flags %#x line_len %u part_len %u header_bytes %u "
				"remaining %llu status %u\n",
				i, c->dir[i].state, c->dir[i].flags, c->dir[i].line_len,
				c->dir[i].part_len, c->dir[i].header_bytes,
				(unsigned long long)c->dir[i].remaining, c->dir[i].status);
	}
	abort();
}

#define CHECK(cond)                              \
	do {                                     \
		if (!(cond))                     \
			broken(#cond, __LINE__); \
	} while (0)

static struct kerno_conn *conn(void)
{
	__u64 key = CONN_KEY;

	return bpf_map_lookup_elem(&conns, &key);
}

static __u64 counter(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	CHECK(v);
	return *v;
}

static int is_line_state(__u8 s)
{
	return s == KERNO_H_START || s == KERNO_H_HEADERS || s == KERNO_H_CHUNK_SIZE ||
	       s == KERNO_H_TRAILERS;
}

static void check_conn(const struct kerno_conn *c)
{
	__u32 i;

	CHECK(c->fifo_tail - c->fifo_head <= KERNO_FIFO_LEN);
	for (i = 0; i < 2; i++) {
		const struct kerno_http_dir *d = &c->dir[i];

		CHECK(d->state <= KERNO_H_STOPPED);
		CHECK(d->part_len <= KERNO_LINE_KEEP);
		/* The kept head of a line is its first bytes, up to KERNO_LINE_KEEP. */
		CHECK(d->part_len ==
		      (d->line_len < KERNO_LINE_KEEP ? d->line_len : KERNO_LINE_KEEP));
		/* (A 101 in one direction stops the other wherever it was.) */
		CHECK(!d->line_len || is_line_state(d->state) || d->state == KERNO_H_STOPPED);
		CHECK((d->flags & KERNO_F_STREAM) != KERNO_F_STREAM);
		CHECK(d->method < KERNO_M__COUNT);
		CHECK(d->header_bytes <= max_header_bytes);
		if (d->state != KERNO_H_UNSYNC && d->state != KERNO_H_STOPPED)
			CHECK(d->flags & KERNO_F_STREAM);
	}
	CHECK(c->role <= KERNO_ROLE_SERVER);
}

static void poison_scratch(const __u8 pattern[8])
{
	struct kerno_scratch *sc = get_scratch();
	size_t i, off_zero = offsetof(struct kerno_scratch, zero_conn);
	__u8 *p = (__u8 *)sc;

	/* Everything before the two regions that must stay zeroed. */
	for (i = 0; i < off_zero; i++)
		p[i] = pattern[i & 7];
}

/* One read or write, as on_data() handles it; bytes in a buffer of their exact size. */
static void do_write(const struct input *in, __u32 dir, const __u8 *bytes, size_t n, int fault)
{
	struct kerno_conn *c = conn();
	__u8 *copy;

	CHECK(c);
	if (!n)
		return;
	if (dir == KERNO_DIR_RX)
		c->rx_bytes += n;
	else
		c->tx_bytes += n;
	if (c->dir[dir].state == KERNO_H_STOPPED)
		return;
	copy = malloc(n);
	CHECK(copy);
	memcpy(copy, bytes, n);
	if (fault)
		shim_set_fault_range(copy + (n * in->fault_at >> 8), n - (n * in->fault_at >> 8));
	if (in->poison)
		poison_scratch(in->pattern);
	http1_parse(c, (__u64)dir << 32 | TID, bpf_ktime_get_ns(), (__u64)(uintptr_t)copy,
		    n > 0x7fffffff ? 0x7fffffff : n);
	shim_set_fault_range(NULL, 0);
	free(copy);
	check_conn(c);
}

static void open_conn(__u8 role)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 key = CONN_KEY;
	struct kerno_conn *c;

	CHECK(!bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST));
	c = conn();
	CHECK(c);
	c->id = 1;
	c->tgid = 4000;
	c->cgroup_id = 1;
	c->family = 2;
	c->local_port = 80;
	c->peer_port = 40000;
	if (role != KERNO_ROLE_UNKNOWN)
		http1_set_role(c, role);
}

static void run(const struct input *in, int poison, struct outcome *out)
{
	static __u8 seg[MAX_SEG];
	struct input run_in = *in;
	struct kerno_series_key k, next;
	const void *prev = NULL;
	size_t off = 0, take, n, j;
	unsigned int i, reps;
	__u64 key = CONN_KEY;
	__u64 sum = 0;
	__u32 b;

	run_in.poison = poison;
	shim_reset_maps();
	shim_set_fault_range(NULL, 0);
	shim_now_ns = 1000000000;
	open_conn(in->role);
	for (i = 0; i <= in->nctl; i++) {
		/* After the controls, what is left of the payload goes as one RX read. */
		__u8 a = i < in->nctl ? in->ctl[2 * i] : 0;
		__u8 len = i < in->nctl ? in->ctl[2 * i + 1] : 0;
		__u32 dir = a >> 7, r = a & 31;
		int fault = in->fault && i == in->fault_ctl;

		shim_now_ns += 1000 + i * 7919;
		if (((a >> 5) & 3) == 3) {
			struct kerno_conn *c = conn();

			/* sendfile: on_data skips STOPPED directions first. */
			if (c->dir[dir].state != KERNO_H_STOPPED)
				http1_skip_opaque(c, dir, (__u64)(len + 1) * (r + 1), shim_now_ns,
						  KERNO_DROP_OPAQUE_BYTES);
			check_conn(c);
			continue;
		}
		take = len && len < in->len - off ? len : in->len - off;
		reps = 1 + r * r;
		switch ((a >> 5) & 3) {
		case 0:
			do_write(&run_in, dir, in->payload + off, take, fault);
			break;
		case 1:
			for (j = 0; j < reps; j++)
				do_write(&run_in, dir, in->payload + off, take, fault && !j);
			break;
		case 2:
			for (n = 0, j = 0; take && j < reps && n + take <= MAX_SEG; j++, n += take)
				memcpy(seg + n, in->payload + off, take);
			do_write(&run_in, dir, seg, n, fault);
			break;
		}
		off += take;
	}
	memcpy(&out->conn, conn(), sizeof(out->conn));
	http1_close(conn(), bpf_ktime_get_ns());
	CHECK(!bpf_map_delete_elem(&conns, &key));

	/* Every measured exchange is in exactly one bucket of one series. */
	out->nseries = shim_map_count(SHIM_MAP(&series));
	out->series = calloc(out->nseries + 1, sizeof(*out->series));
	CHECK(out->series);
	for (i = 0; !shim_map_get_next_key(SHIM_MAP(&series), prev, &next); i++) {
		struct kerno_series_val *v = bpf_map_lookup_elem(&series, &next);
		__u64 nb = 0;

		CHECK(i < out->nseries && v);
		CHECK(next.method < KERNO_M__COUNT && next.status <= 999);
		CHECK(next.role == out->conn.role);
		CHECK(next.path[KERNO_PATH_LEN - 1] == 0);
		for (j = strnlen(next.path, KERNO_PATH_LEN); j < KERNO_PATH_LEN; j++)
			CHECK(next.path[j] == 0);
		for (b = 0; b < KERNO_HIST_BUCKETS; b++)
			nb += v->buckets[b];
		CHECK(nb == v->count);
		sum += v->count;
		out->series[i].key = next;
		out->series[i].val = *v;
		k = next;
		prev = &k;
	}
	CHECK(i == out->nseries);
	for (b = 0; b < KERNO_COUNTER__COUNT; b++)
		out->counters[b] = counter(b);
	CHECK(sum == out->counters[KERNO_EV_REQUESTS]);
}

/* Same conn state, counters and series, in whatever order the series come. */
static void check_same(const struct outcome *a, const struct outcome *b)
{
	__u32 i, j;

	CHECK(!memcmp(&a->conn, &b->conn, sizeof(a->conn)));
	CHECK(!memcmp(a->counters, b->counters, sizeof(a->counters)));
	CHECK(a->nseries == b->nseries);
	for (i = 0; i < a->nseries; i++) {
		for (j = 0; j < b->nseries; j++)
			if (!memcmp(&a->series[i].key, &b->series[j].key, sizeof(a->series[i].key)))
				break;
		CHECK(j < b->nseries);
		CHECK(!memcmp(&a->series[i].val, &b->series[j].val, sizeof(a->series[i].val)));
	}
}

/* With FUZZ_HTTP1_DUMP set in the environment: what a run measured, for replaying seeds. */
static void dump(const struct outcome *o)
{
	__u32 i;

	for (i = 0; i < KERNO_COUNTER__COUNT; i++)
		if (o->counters[i])
			fprintf(stderr, "counter %u: %llu\n", i,
				(unsigned long long)o->counters[i]);
	for (i = 0; i < o->nseries; i++)
		fprintf(stderr, "series role %u method %u status %u '%.*s': count %llu\n",
			o->series[i].key.role, o->series[i].key.method, o->series[i].key.status,
			KERNO_PATH_LEN, o->series[i].key.path,
			(unsigned long long)o->series[i].val.count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int dumping = -1;

	struct outcome plain, poisoned;
	struct input in;

	if (size < HDR_LEN)
		return 0;
	memset(&in, 0, sizeof(in));
	in.role = data[0] & 3;
	if (in.role == 3)
		in.role = KERNO_ROLE_SERVER;
	in.poison = !!(data[0] & 4);
	in.fault = !!(data[0] & 8);
	in.fault_ctl = data[0] >> 4;
	in.fault_at = data[1];
	memcpy(in.pattern, data + 2, 8);
	in.nctl = data[10] % (MAX_CTL + 1);
	if (size < HDR_LEN + 2 * in.nctl)
		in.nctl = (size - HDR_LEN) / 2;
	in.ctl = data + HDR_LEN;
	in.payload = data + HDR_LEN + 2 * in.nctl;
	in.len = size - HDR_LEN - 2 * in.nctl;

	run(&in, 0, &plain);
	if (dumping < 0)
		dumping = getenv("FUZZ_HTTP1_DUMP") != NULL;
	if (dumping)
		dump(&plain);
	if (in.poison) {
		run(&in, 1, &poisoned);
		check_same(&plain, &poisoned);
		free(poisoned.series);
	}
	free(plain.series);
	return 0;
}
