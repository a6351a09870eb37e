// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The in-kernel HTTP/1.x parser (kern/http1.bpf.h), compiled unchanged for
 * userspace against selftests/shim/bpf_shim.h and driven the way
 * kern/capture.bpf.c drives it: a `conns` entry made as conn_create() and
 * http1_set_role() make it, http1_parse() once per read or write as on_data()
 * calls it, http1_close() and the delete as on_state() does. Every figure
 * asserted is exact: series, counts, latency sums and buckets, drop counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf_shim.h"
#include "names.h"
#include "http1.bpf.h"

#define CONN_KEY 0xffff888012345600ULL /* a struct sock address */
#define TGID 4240
#define TID 4242
#define CGROUP_ID 77
#define LOCAL_PORT 8080
#define PEER_PORT 54321
#define FAMILY_INET 2 /* AF_INET */
#define T0 1000000000ULL /* the clock at the start of each test */
#define MS 1000000ULL

#define RX KERNO_DIR_RX
#define TX KERNO_DIR_TX

static const __u8 local_addr[4] = { 127, 0, 0, 1 };
static const __u8 peer_addr[4] = { 10, 1, 2, 3 };

/* Role of the test's connection: which direction carries the requests. */
static __u8 conn_role;

/* Scratch space for formatted messages, emptied before each test. */
static char arena[1 << 21];
static size_t arena_used;

static const char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *strf(const char *fmt, ...)
{
	char *p = arena + arena_used;
	size_t room = sizeof(arena) - arena_used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		fail_msg("strf: arena full");
	arena_used += n + 1;
	return p;
}

static void advance(__u64 ns)
{
	shim_now_ns += ns;
}

static struct kerno_conn *conn(void)
{
	__u64 key = CONN_KEY;

	return bpf_map_lookup_elem(&conns, &key);
}

/*
 * As conn_create(): a zeroed entry, its endpoints, and a role when the
 * connection was seen from its accept or connect (KERNO_ROLE_UNKNOWN: one
 * open before the agent, adopted at its first data).
 */
static struct kerno_conn *open_conn(__u8 role)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 key = CONN_KEY;
	struct kerno_conn *c;

	assert_non_null(sc);
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST), 0);
	c = conn();
	assert_non_null(c);
	c->id = bpf_ktime_get_ns();
	c->tgid = TGID;
	c->cgroup_id = CGROUP_ID;
	c->family = FAMILY_INET;
	c->local_port = LOCAL_PORT;
	c->peer_port = PEER_PORT;
	memcpy(c->local_addr, local_addr, sizeof(local_addr));
	memcpy(c->peer_addr, peer_addr, sizeof(peer_addr));
	if (role != KERNO_ROLE_UNKNOWN)
		http1_set_role(c, role);
	conn_role = role;
	return c;
}

/*
 * One read (RX) or write (TX) of len bytes, as on_data() handles it. The
 * bytes are copied to a buffer of exactly len bytes, so that AddressSanitizer
 * catches any read past them; those from byte `fault_from` on cannot be read
 * (as if unmapped).
 */
static void feed_faulting(__u32 dir, const void *buf, size_t len, size_t fault_from)
{
	struct kerno_conn *c = conn();
	struct flow f;
	char *copy;

	assert_non_null(c);
	assert_true(len > 0); /* on_data only sees ret > 0 */
	f.conn = c;
	f.now = bpf_ktime_get_ns();
	f.tid = TID;
	f.dir = dir;
	if (dir == KERNO_DIR_RX)
		c->rx_bytes += len;
	else
		c->tx_bytes += len;
	if (c->dir[dir].state == KERNO_H_STOPPED)
		return;
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	if (fault_from < len)
		shim_set_fault_range(copy + fault_from, len - fault_from);
	http1_parse(c, flow_dir_tid(&f), f.now, (__u64)(uintptr_t)copy,
		    len > 0x7fffffff ? 0x7fffffff : len);
	shim_set_fault_range(NULL, 0);
	free(copy);
}

static void feed(__u32 dir, const void *buf, size_t len)
{
	feed_faulting(dir, buf, len, len);
}

static void feeds(__u32 dir, const char *s)
{
	feed(dir, s, strlen(s));
}

/* The direction requests travel in on this connection, and responses. */
static __u32 req_dir(void)
{
	return conn_role == KERNO_ROLE_CLIENT ? TX : RX;
}

static void req(const char *s)
{
	feeds(req_dir(), s);
}

static void resp(const char *s)
{
	feeds(req_dir() ^ 1, s);
}

/* As on_state() at TCP_CLOSE. */
static void close_conn(void)
{
	__u64 key = CONN_KEY;
	struct kerno_conn *c = conn();

	assert_non_null(c);
	http1_close(c, bpf_ktime_get_ns());
	assert_int_equal(bpf_map_delete_elem(&conns, &key), 0);
	count(KERNO_EV_CLOSED);
}

static __u64 counter(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	assert_non_null(v);
	return *v;
}

/* Every drop counter equals want[] (unnamed ones 0). */
static void assert_drops_are(const __u64 want[KERNO_DROP__COUNT], const char *where, int line)
{
	int bad = 0;
	__u32 i;

	for (i = 0; i < KERNO_DROP__COUNT; i++) {
		__u64 got = counter(i);

		if (got != want[i]) {
			print_error("%s:%d: drop %s = %llu, want %llu\n", where, line,
				    kerno_counter_name(i), (unsigned long long)got,
				    (unsigned long long)want[i]);
			bad = 1;
		}
	}
	if (bad)
		fail_msg("drop counters differ");
}

#define ASSERT_DROPS(...) \
	assert_drops_are((const __u64[KERNO_DROP__COUNT]){ __VA_ARGS__ }, __FILE__, __LINE__)

static struct kerno_series_key series_key(__u8 role, __u8 method, __u16 status, const char *path)
{
	struct kerno_series_key k;

	memset(&k, 0, sizeof(k));
	assert_true(strlen(path) < KERNO_PATH_LEN);
	k.cgroup_id = CGROUP_ID;
	k.tgid = TGID;
	k.server_port = role == KERNO_ROLE_SERVER ? LOCAL_PORT : PEER_PORT;
	k.status = status;
	k.role = role;
	k.method = method;
	k.family = FAMILY_INET;
	k.proto = KERNO_P_HTTP1;
	memcpy(k.peer_addr, peer_addr, sizeof(peer_addr));
	memcpy(k.path, path, strlen(path));
	return k;
}

static void print_all_series(void)
{
	struct kerno_series_key k, next;
	const void *prev = NULL;

	while (!shim_map_get_next_key(SHIM_MAP(&series), prev, &next)) {
		struct kerno_series_val *v = bpf_map_lookup_elem(&series, &next);

		print_error("  series role %u method %u status %u path '%.*s': count %llu\n",
			    next.role, next.method, next.status, KERNO_PATH_LEN, next.path,
			    v ? (unsigned long long)v->count : 0ULL);
		k = next;
		prev = &k;
	}
}

static struct kerno_series_val *find_series(__u8 role, __u8 method, __u16 status, const char *path)
{
	struct kerno_series_key k = series_key(role, method, status, path);

	return bpf_map_lookup_elem(&series, &k);
}

/* The series (this connection's role) exists and has measured `n` exchanges. */
static struct kerno_series_val *assert_series_at(__u8 method, const char *path, __u16 status,
						 __u64 n, int line)
{
	struct kerno_series_val *v = find_series(conn_role, method, status, path);

	if (!v) {
		print_all_series();
		fail_msg("line %d: no series method %u status %u path '%s'", line, method, status,
			 path);
	}
	if (v->count != n) {
		print_all_series();
		fail_msg("line %d: series '%s' %u: count %llu, want %llu", line, path, status,
			 (unsigned long long)v->count, (unsigned long long)n);
	}
	return v;
}

#define assert_series(method, path, status, n) assert_series_at(method, path, status, n, __LINE__)

static __u32 nseries(void)
{
	return shim_map_count(SHIM_MAP(&series));
}

/* Sum of the bucket counts; checks it equals count. */
static void assert_buckets_sum(const struct kerno_series_val *v)
{
	__u64 sum = 0;
	__u32 b;

	for (b = 0; b < KERNO_HIST_BUCKETS; b++)
		sum += v->buckets[b];
	assert_int_equal(sum, v->count);
}

static const char *get(const char *target)
{
	return strf("GET %s HTTP/1.1\r\nHost: example.com\r\nUser-Agent: kerno-test/1.0\r\n"
		    "Accept: */*\r\n\r\n",
		    target);
}

static const char *ok(const char *body)
{
	return strf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
		    strlen(body), body);
}

static const char *status_only(unsigned int status)
{
	return strf("HTTP/1.1 %u Whatever\r\nContent-Length: 0\r\n\r\n", status);
}

/* Maps, clock and scratch as a test starts, formatted strings kept. */
static void setup_keep_arena(void)
{
	struct kerno_scratch *sc;

	shim_reset_maps();
	shim_set_fault_range(NULL, 0);
	shim_now_ns = T0;
	/* The kernel's scratch memory holds whatever the last run left: not zeroes. */
	sc = get_scratch();
	memset(sc->win, 0xa5, sizeof(sc->win));
	memset(sc->line, 0x5a, sizeof(sc->line));
	memset(sc->tmpl, 0x3c, sizeof(sc->tmpl));
}

static int setup(void **state)
{
	arena_used = 0;
	setup_keep_arena();
	return 0;
}

/* ---- the shim itself: the parser's results are only as good as its maps ---- */

static long count_to(__u32 i, __u32 *stop)
{
	return i + 1 >= *stop;
}

static void test_shim_helpers(void **state)
{
	struct kerno_scratch *sc = get_scratch();
	__u64 key, first, next, *arr;
	struct kerno_conn *c, *c2;
	__u32 idx, stop, n = 0;
	char buf[8] = "abcdefg", dst[8];

	/* Hash: NOEXIST, EXIST, ANY, max_entries, delete, stable values. */
	key = 1;
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_EXIST), -ENOENT);
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST), -EEXIST);
	c = bpf_map_lookup_elem(&conns, &key);
	assert_non_null(c);
	c->tgid = 99;
	for (key = 2; key <= 8192; key++)
		assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST), 0);
	assert_int_equal(shim_map_count(SHIM_MAP(&conns)), 8192);
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_ANY), -E2BIG);
	key = 1;
	assert_ptr_equal(bpf_map_lookup_elem(&conns, &key), c);
	assert_int_equal(c->tgid, 99);
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_ANY), 0);
	assert_int_equal(c->tgid, 0); /* replaced while full: allowed */
	key = 500;
	assert_int_equal(bpf_map_delete_elem(&conns, &key), 0);
	assert_int_equal(bpf_map_delete_elem(&conns, &key), -ENOENT);
	assert_null(bpf_map_lookup_elem(&conns, &key));
	key = 9000;
	assert_int_equal(bpf_map_update_elem(&conns, &key, &sc->zero_conn, BPF_NOEXIST), 0);
	c2 = bpf_map_lookup_elem(&conns, &key);
	assert_non_null(c2);
	assert_ptr_not_equal(c2, c);
	/* Iteration visits every key once. */
	assert_int_equal(shim_map_get_next_key(SHIM_MAP(&conns), NULL, &first), 0);
	for (key = first, n = 1; !shim_map_get_next_key(SHIM_MAP(&conns), &key, &next); n++)
		key = next;
	assert_int_equal(n, 8192);

	/* Array: every index exists and is zeroed; none past max_entries. */
	idx = KERNO_COUNTER__COUNT - 1;
	arr = bpf_map_lookup_elem(&counters, &idx);
	assert_non_null(arr);
	assert_int_equal(*arr, 0);
	idx = KERNO_COUNTER__COUNT;
	assert_null(bpf_map_lookup_elem(&counters, &idx));
	assert_int_equal(bpf_map_update_elem(&counters, &idx, &first, BPF_ANY), -E2BIG);
	idx = 0;
	assert_int_equal(bpf_map_update_elem(&counters, &idx, &first, BPF_NOEXIST), -EEXIST);
	assert_int_equal(bpf_map_delete_elem(&counters, &idx), -EINVAL);
	shim_reset_maps();
	assert_int_equal(shim_map_count(SHIM_MAP(&conns)), 0);

	/* bpf_loop: the number of calls made, stopping after a 1. */
	stop = 5;
	assert_int_equal(bpf_loop(10, count_to, &stop, 0), 5);
	stop = 100;
	assert_int_equal(bpf_loop(10, count_to, &stop, 0), 10);
	assert_int_equal(bpf_loop(0, count_to, &stop, 0), 0);
	assert_int_equal(bpf_loop(10, count_to, &stop, 1), -EINVAL);
	assert_int_equal(bpf_loop((1U << 23) + 1, count_to, &stop, 0), -E2BIG);

	/* Probe reads: NULL page and the fault range fail and zero the destination. */
	assert_int_equal(bpf_probe_read_user(dst, 8, buf), 0);
	assert_memory_equal(dst, buf, 8);
	assert_int_equal(bpf_probe_read_user(dst, 8, NULL), -EFAULT);
	assert_memory_equal(dst, "\0\0\0\0\0\0\0\0", 8);
	shim_set_fault_range(buf + 7, 1);
	assert_int_equal(bpf_probe_read_kernel(dst, 7, buf), 0);
	assert_int_equal(bpf_probe_read_kernel(dst, 8, buf), -EFAULT);
	shim_set_fault_range(NULL, 0);
	assert_int_equal(bpf_probe_read_kernel(dst, 8, buf), 0);

	shim_now_ns = 12345;
	assert_int_equal(bpf_ktime_get_ns(), 12345);
}

/* ---- exchanges ---- */

static void test_keepalive_server(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_SERVER);
	req(get("/users/123"));
	advance(20 * MS);
	resp(ok("hello"));
	advance(1 * MS);
	req(get("/users/456?verbose=1"));
	advance(3 * MS);
	resp(ok("world!"));
	req("POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"a\":12345}");
	advance(2 * MS);
	resp("HTTP/1.1 201 Created\r\nLocation: /orders/9\r\nContent-Length: 0\r\n\r\n");

	assert_int_equal(nseries(), 2);
	v = assert_series(KERNO_M_GET, "/users/{id}", 200, 2);
	assert_int_equal(v->sum_ns, 23 * MS);
	assert_int_equal(v->buckets[228], 1); /* 20 ms: 1 + (24 - 10) * 16 + 3 */
	assert_int_equal(v->buckets[183], 1); /* 3 ms: 1 + (21 - 10) * 16 + 6 */
	assert_buckets_sum(v);
	v = assert_series(KERNO_M_POST, "/orders", 201, 1);
	assert_int_equal(v->sum_ns, 2 * MS);
	assert_int_equal(counter(KERNO_EV_REQUESTS), 3);
	assert_int_equal(conn()->fifo_head, 3);
	assert_int_equal(conn()->fifo_tail, 3);
	assert_int_equal(conn()->dir[RX].state, KERNO_H_START);
	assert_int_equal(conn()->dir[TX].state, KERNO_H_START);
	close_conn();
	ASSERT_DROPS();
	assert_int_equal(counter(KERNO_EV_CLOSED), 1);
}

static void test_keepalive_client(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_CLIENT);
	req(get("/health"));
	advance(5 * MS);
	resp(ok("ok"));
	req("DELETE /users/42 HTTP/1.1\r\nHost: x\r\n\r\n");
	advance(7 * MS);
	resp("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
	close_conn();

	assert_int_equal(nseries(), 2);
	v = assert_series(KERNO_M_GET, "/health", 200, 1);
	assert_int_equal(v->sum_ns, 5 * MS);
	v = assert_series(KERNO_M_DELETE, "/users/{id}", 404, 1);
	assert_int_equal(v->sum_ns, 7 * MS);
	/* Client series are keyed by the server's (peer) port. */
	assert_null(find_series(KERNO_ROLE_SERVER, KERNO_M_GET, 200, "/health"));
	ASSERT_DROPS();
}

struct tmpl_case {
	const char *method;
	const char *target;
	__u8 want_method;
	const char *want_path;
};

static const struct tmpl_case tmpl_cases[] = {
	{ "GET", "/users/123", KERNO_M_GET, "/users/{id}" },
	{ "GET", "/users/123/", KERNO_M_GET, "/users/{id}/" },
	{ "GET", "/users/123/orders/f86d081884c7d659", KERNO_M_GET, "/users/{id}/orders/{id}" },
	{ "GET", "/files/deadbeef", KERNO_M_GET, "/files/deadbeef" }, /* no digit: a word */
	{ "GET", "/files/abc1234", KERNO_M_GET, "/files/abc1234" }, /* 7 hex digits: kept */
	{ "GET", "/files/abcd1234", KERNO_M_GET, "/files/{id}" }, /* 8 with a digit: an id */
	{ "GET", "/items/550e8400-e29b-41d4-a716-446655440000", KERNO_M_GET, "/items/{id}" },
	{ "GET", "/items/f47ac10b-58cc-4372-a567-0e02b2c3d479/x", KERNO_M_GET, "/items/{id}/x" },
	{ "GET", "/api/v2/search?q=42&page=3", KERNO_M_GET, "/api/v2/search" },
	{ "GET", "/doc#section-12", KERNO_M_GET, "/doc" },
	{ "GET", "/", KERNO_M_GET, "/" },
	{ "GET", "/2024-01-31/report", KERNO_M_GET, "/{id}/report" },
	{ "GET", "http://example.com/x/7", KERNO_M_GET, "http://example.com/x/{id}" },
	{ "OPTIONS", "*", KERNO_M_OPTIONS, "*" },
	{ "HEAD", "/h/1", KERNO_M_HEAD, "/h/{id}" },
	{ "PUT", "/p/1", KERNO_M_PUT, "/p/{id}" },
	{ "POST", "/p", KERNO_M_POST, "/p" },
	{ "PATCH", "/p/2", KERNO_M_PATCH, "/p/{id}" },
	{ "DELETE", "/p/3", KERNO_M_DELETE, "/p/{id}" },
	{ "TRACE", "/t", KERNO_M_TRACE, "/t" },
	{ "PURGE", "/cache/99", KERNO_M_OTHER, "/cache/{id}" },
	/* Long paths: cut to KERNO_PATH_LEN - 1 bytes. */
	{ "GET", "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/eeeeeeeeee/ffffffffff", KERNO_M_GET,
	  "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/ee" },
	/* An id segment cut short still becomes {id} if {id} fits... */
	{ "GET", "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddd/1234567890", KERNO_M_GET,
	  "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddd/{id}" },
	/* ...and is left as cut when it does not. */
	{ "GET", "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/1234567890", KERNO_M_GET,
	  "/aaaaaaaaaa/bbbbbbbbbb/cccccccccc/dddddddddd/12" },
	/* Only the first 64 bytes of the line are looked at: 60 of this target. */
	{ "GET", "/1234567890/1234567890/1234567890/1234567890/1234567890/abc/x", KERNO_M_GET,
	  "/{id}/{id}/{id}/{id}/{id}/abc/" },
};

static void test_templates(void **state)
{
	const struct tmpl_case *t;
	size_t i, n = sizeof(tmpl_cases) / sizeof(tmpl_cases[0]);

	open_conn(KERNO_ROLE_SERVER);
	for (i = 0; i < n; i++) {
		t = &tmpl_cases[i];
		req(strf("%s %s HTTP/1.1\r\nHost: example.com\r\n\r\n", t->method, t->target));
		resp(strf("HTTP/1.1 %zu OK\r\nContent-Length: 0\r\n\r\n", 200 + i));
	}
	for (i = 0; i < n; i++) {
		t = &tmpl_cases[i];
		assert_series(t->want_method, t->want_path, 200 + i, 1);
	}
	assert_int_equal(nseries(), n);
	close_conn();
	ASSERT_DROPS();
}

/*
 * Digit-free paths take template_plain()'s word-at-a-time route: their
 * template is the path itself, cut at ? # or the blank and at 47 bytes.
 * Random ones (fixed seed) against that rule, lengths across word edges.
 */
static void test_templates_plain_random(void **state)
{
	static const char alphabet[] = "abcdefxyzABC-_.~/%";
	char path[80], want[KERNO_PATH_LEN];
	unsigned int seed = 7, i, j, len;

	for (i = 0; i < 400; i++) {
		open_conn(KERNO_ROLE_SERVER);
		len = 1 + rand_r(&seed) % 70;
		path[0] = '/';
		for (j = 1; j < len; j++)
			path[j] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		path[len] = 0;
		memset(want, 0, sizeof(want));
		/* "GET " leaves 60 bytes of the 64 kept; the template holds 47. */
		memcpy(want, path, len < KERNO_PATH_LEN - 1 ? len : KERNO_PATH_LEN - 1);
		req(strf("GET %s%s HTTP/1.1\r\n\r\n", path, (i & 1) ? "?q=1" : ""));
		resp(status_only(200));
		assert_series(KERNO_M_GET, want, 200, 1);
		assert_int_equal(nseries(), 1);
		close_conn();
		ASSERT_DROPS();
		setup_keep_arena();
		arena_used = 0;
	}
}

static void test_latency_buckets(void **state)
{
	static const struct {
		__u64 dur;
		unsigned int bucket;
	} cases[] = {
		{ 0, 0 },
		{ 1023, 0 },
		{ 1024, 1 },
		{ 20 * MS, 228 },
		{ 30 * MS, 237 }, /* 1 + (24 - 10) * 16 + 12 */
		{ 100000 * MS, 424 }, /* 100 s: 1 + (36 - 10) * 16 + 7 */
		{ 200000 * MS, 432 }, /* 200 s: past 2^37 ns, the last bucket */
	};
	struct kerno_series_val *v;
	__u64 sum = 0;
	size_t i;

	open_conn(KERNO_ROLE_SERVER);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req(get("/lat"));
		advance(cases[i].dur);
		resp(ok(""));
		sum += cases[i].dur;
		advance(MS);
	}
	v = assert_series(KERNO_M_GET, "/lat", 200, 7);
	assert_int_equal(v->sum_ns, sum);
	assert_int_equal(v->buckets[0], 2);
	assert_int_equal(v->buckets[1], 1);
	assert_int_equal(v->buckets[228], 1);
	assert_int_equal(v->buckets[237], 1);
	assert_int_equal(v->buckets[424], 1);
	assert_int_equal(v->buckets[432], 1);
	assert_buckets_sum(v);
	close_conn();
	ASSERT_DROPS();
}

/* Latency runs from the request's first byte to the response's last. */
static void test_latency_span(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_SERVER);
	req("POST /up HTTP/1.1\r\nHost: x\r\n");
	advance(5 * MS);
	req("Content-Length: 4\r\n\r\nab");
	advance(5 * MS);
	req("cd");
	advance(10 * MS);
	resp("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
	advance(10 * MS);
	resp("abc");
	advance(10 * MS);
	assert_int_equal(nseries(), 0); /* not done until its last byte */
	resp("def");
	v = assert_series(KERNO_M_POST, "/up", 200, 1);
	assert_int_equal(v->sum_ns, 40 * MS);
	assert_int_equal(v->buckets[244], 1); /* 40 ms: 1 + (25 - 10) * 16 + 3 */
	close_conn();
	ASSERT_DROPS();
}

/*
 * `n` pipelined requests in one write, then their responses one by one,
 * each with its own status (210 + i: none of them bodiless like 204).
 */
static void pipeline(unsigned int n)
{
	char *all = malloc(n * 64 + 1);
	size_t used = 0;
	unsigned int i;

	assert_non_null(all);
	for (i = 0; i < n; i++)
		used += sprintf(all + used, "GET /p%c HTTP/1.1\r\nHost: x\r\n\r\n", 'a' + i);
	req(all);
	free(all);
	for (i = 0; i < n; i++) {
		advance(MS);
		resp(strf("HTTP/1.1 %u OK\r\nContent-Length: 2\r\n\r\n%02u", 210 + i, i));
	}
}

static void test_pipelining_8(void **state)
{
	struct kerno_series_val *v;
	unsigned int i;

	open_conn(KERNO_ROLE_SERVER);
	pipeline(8);
	/* Response i answers request i: each path has its own status. */
	for (i = 0; i < 8; i++) {
		v = assert_series(KERNO_M_GET, strf("/p%c", 'a' + i), 210 + i, 1);
		assert_int_equal(v->sum_ns, (i + 1) * MS);
	}
	assert_int_equal(nseries(), 8);
	close_conn();
	ASSERT_DROPS();
}

static void test_pipelining_17(void **state)
{
	unsigned int i;

	open_conn(KERNO_ROLE_SERVER);
	pipeline(17);
	/*
	 * The FIFO holds 16: the 17th request is dropped (counted once, as
	 * fifo_full) and its response is recognised and passed over.
	 */
	for (i = 0; i < 16; i++)
		assert_series(KERNO_M_GET, strf("/p%c", 'a' + i), 210 + i, 1);
	assert_int_equal(nseries(), 16);
	assert_int_equal(counter(KERNO_EV_REQUESTS), 16);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_FIFO_FULL] = 1);
}

/* Pipelined requests split over several writes, responses in one. */
static void test_pipelining_responses_together(void **state)
{
	open_conn(KERNO_ROLE_CLIENT);
	req(strf("%s%s", get("/a"), get("/b/1")));
	req(get("/c"));
	advance(4 * MS);
	resp(strf("%s%s%s", ok("a"), status_only(404), ok("ccc")));
	assert_int_equal(assert_series(KERNO_M_GET, "/a", 200, 1)->sum_ns, 4 * MS);
	assert_series(KERNO_M_GET, "/b/{id}", 404, 1);
	assert_series(KERNO_M_GET, "/c", 200, 1);
	assert_int_equal(nseries(), 3);
	close_conn();
	ASSERT_DROPS();
}

static void test_chunked(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_SERVER);
	/* A chunked request body, with an extension and a trailer. */
	req("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\n\r\n");
	advance(2 * MS);
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
	     "4\r\nwiki\r\n5;ext=\"quoted\"\r\npedia\r\n");
	advance(3 * MS);
	assert_int_equal(nseries(), 0);
	resp("e\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\nX-Trailer: a\r\n\r\n");
	v = assert_series(KERNO_M_POST, "/upload", 200, 1);
	assert_int_equal(v->sum_ns, 5 * MS);
	/* The stream is still in step: a second exchange, chunk sizes split. */
	req(get("/next"));
	resp("HTTP/1.1 203 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n1");
	resp("0\r\n0123456789abcdef\r\n0");
	resp("\r\n\r\n");
	assert_series(KERNO_M_GET, "/next", 203, 1);
	assert_int_equal(nseries(), 2);
	close_conn();
	ASSERT_DROPS();
}

/* A POST with a Content-Length body and its response, cut in two at every byte. */
static void test_content_length_every_split(void **state)
{
	const char *qbody = "{\"name\":\"x\",\"qty\":1234567}", *sbody = "{\"id\":123456789}";
	const char *rq = strf("POST /items/12 HTTP/1.1\r\nHost: example.com\r\nContent-Type: "
			      "application/json\r\nContent-Length: %zu\r\n\r\n%s",
			      strlen(qbody), qbody);
	const char *rs = strf("HTTP/1.1 201 Created\r\nServer: t\r\nContent-Length: %zu\r\n\r\n%s",
			      strlen(sbody), sbody);
	size_t lq = strlen(rq), ls = strlen(rs), k, which;

	for (which = 0; which < 2; which++) {
		size_t lm = which ? ls : lq;

		for (k = 1; k < lm; k++) {
			struct kerno_series_val *v;

			setup_keep_arena();
			open_conn(KERNO_ROLE_SERVER);
			/* Twice on the connection: the first must end exactly. */
			for (int round = 0; round < 2; round++) {
				if (which) {
					req(rq);
					advance(MS);
					feed(TX, rs, k);
					advance(MS);
					feed(TX, rs + k, ls - k);
				} else {
					feed(RX, rq, k);
					advance(MS);
					feed(RX, rq + k, lq - k);
					advance(MS);
					resp(rs);
				}
			}
			v = assert_series(KERNO_M_POST, "/items/{id}", 201, 2);
			assert_int_equal(v->sum_ns, 4 * MS);
			assert_int_equal(nseries(), 1);
			assert_int_equal(conn()->dir[RX].state, KERNO_H_START);
			assert_int_equal(conn()->dir[TX].state, KERNO_H_START);
			close_conn();
			ASSERT_DROPS();
		}
	}
}

static void test_head_with_length(void **state)
{
	open_conn(KERNO_ROLE_CLIENT);
	req("HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n");
	resp("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
	/* The response had no body: the next one is parsed as such. */
	req(get("/small"));
	resp(ok("0123456789"));
	/* Pipelined: GET, HEAD, GET answered in one read. */
	req(strf("%sHEAD /big HTTP/1.1\r\nHost: x\r\n\r\n%s", get("/a"), get("/b")));
	resp(strf("%sHTTP/1.1 200 OK\r\nContent-Length: 55\r\n\r\n%s", ok("aaaaa"), ok("bb")));
	assert_series(KERNO_M_HEAD, "/big", 200, 2);
	assert_series(KERNO_M_GET, "/small", 200, 1);
	assert_series(KERNO_M_GET, "/a", 200, 1);
	assert_series(KERNO_M_GET, "/b", 200, 1);
	assert_int_equal(nseries(), 4);
	close_conn();
	ASSERT_DROPS();
}

static void test_interim_responses(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_CLIENT);
	req("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
	advance(MS);
	resp("HTTP/1.1 100 Continue\r\n\r\n");
	req("0123456789");
	advance(MS);
	resp("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
	/* Several interim responses and the final one in one read. */
	req(get("/hints"));
	advance(MS);
	resp(strf("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
		  "HTTP/1.1 102 Processing\r\n\r\n%s",
		  ok("done")));
	v = assert_series(KERNO_M_POST, "/upload", 201, 1);
	assert_int_equal(v->sum_ns, 2 * MS);
	assert_series(KERNO_M_GET, "/hints", 200, 1);
	assert_int_equal(nseries(), 2);
	close_conn();
	ASSERT_DROPS();
}

static void test_upgrade_101(void **state)
{
	static const unsigned char frame_in[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
						  0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const unsigned char frame_out[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };

	const char *upgrade =
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n";

	open_conn(KERNO_ROLE_SERVER);
	req(upgrade);
	advance(MS);
	/* The first frame comes in the same write as the 101. */
	resp(strf("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "\r\n%s",
		  "\x81\x02hi"));
	assert_int_equal(conn()->dir[RX].state, KERNO_H_STOPPED);
	assert_int_equal(conn()->dir[TX].state, KERNO_H_STOPPED);
	feed(RX, frame_in, sizeof(frame_in));
	feed(TX, frame_out, sizeof(frame_out));
	req(get("/not/http/any/more"));
	assert_series(KERNO_M_GET, "/ws", 101, 1);
	assert_int_equal(nseries(), 1);
	/* Bytes are still counted, just not parsed. */
	assert_int_equal(conn()->rx_bytes,
			 strlen(upgrade) + sizeof(frame_in) + strlen(get("/not/http/any/more")));
	close_conn();
	ASSERT_DROPS();
}

static void test_204_304(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	req(get("/a"));
	resp("HTTP/1.1 204 No Content\r\n\r\n");
	req(get("/b"));
	/* A 304's Content-Length is that of the body it did not send. */
	resp("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n");
	req(get("/c"));
	resp(ok("body"));
	assert_series(KERNO_M_GET, "/a", 204, 1);
	assert_series(KERNO_M_GET, "/b", 304, 1);
	assert_series(KERNO_M_GET, "/c", 200, 1);
	assert_int_equal(nseries(), 3);
	close_conn();
	ASSERT_DROPS();
}

static void test_close_delimited(void **state)
{
	struct kerno_series_val *v;

	open_conn(KERNO_ROLE_CLIENT);
	req("GET /stream HTTP/1.0\r\nHost: x\r\n\r\n");
	advance(MS);
	resp("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part,");
	advance(MS);
	resp("\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"); /* body bytes, whatever they look like */
	advance(MS);
	assert_int_equal(nseries(), 0);
	assert_int_equal(conn()->dir[RX].state, KERNO_H_BODY_EOF);
	close_conn();
	v = assert_series(KERNO_M_GET, "/stream", 200, 1);
	assert_int_equal(v->sum_ns, 3 * MS);
	ASSERT_DROPS();
}

static void test_unmatched_response(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	resp(ok("who asked?"));
	req(get("/x"));
	resp(ok("x"));
	assert_series(KERNO_M_GET, "/x", 200, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNMATCHED_RESPONSE] = 1);
}

static void test_bad_message(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	/*
	 * A header line without a colon does not break the framing: the
	 * exchange is what the server made of it, counted with its status.
	 */
	req("GET /x HTTP/1.1\r\nHost: a\r\nThis is not a header\r\nAccept: */*\r\n\r\n");
	assert_int_equal(conn()->dir[RX].state, KERNO_H_START);
	resp("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	assert_series(KERNO_M_GET, "/x", 400, 1);
	/* After a give-up, the next write that starts with a request syncs again. */
	req("GET /q HTTP/1.1\r\nContent-Length: lots\r\n\r\n");
	assert_int_equal(conn()->dir[RX].state, KERNO_H_UNSYNC);
	resp(ok("q")); /* its response has no request */
	req(get("/y"));
	resp(ok("y"));
	/* A malformed chunk size in a response: the response goes, with its request. */
	req(get("/z"));
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n");
	assert_int_equal(conn()->dir[TX].state, KERNO_H_UNSYNC);
	req(get("/w"));
	resp(ok("w"));
	/* A malformed status line; a malformed Content-Length. */
	req(get("/v"));
	resp("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
	req(get("/u"));
	resp("HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n");
	assert_series(KERNO_M_GET, "/y", 200, 1);
	assert_series(KERNO_M_GET, "/w", 200, 1);
	assert_int_equal(nseries(), 3);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_BAD_MESSAGE] = 4, [KERNO_DROP_UNMATCHED_RESPONSE] = 1);
}

/* Header lines "X-Pad: aaa...\r\n" of `total` bytes in all (0, or 9 or more), none over line_len + 9. */
static const char *pad_lines(size_t total, size_t line_len)
{
	char *p = arena + arena_used, *q = p;
	size_t left = total, pad;

	assert_true(total == 0 || total >= 9);
	assert_true(arena_used + total + 1 < sizeof(arena));
	while (left) {
		pad = left - 9 < line_len ? left - 9 : line_len;
		if (left - 9 - pad && left - 9 - pad < 9)
			pad = left - 18; /* leave a whole last line */
		q += sprintf(q, "X-Pad: ");
		memset(q, 'a', pad);
		q += pad;
		q += sprintf(q, "\r\n");
		left -= 9 + pad;
	}
	assert_int_equal((size_t)(q - p), total);
	arena_used += total + 1;
	return p;
}

/* A request whose header block, start line to blank line, is `total` bytes. */
static const char *request_of_size(size_t total, size_t line_len)
{
	const char *start = "GET /big HTTP/1.1\r\n";

	return strf("%s%s\r\n", start, pad_lines(total - strlen(start) - 2, line_len));
}

static void test_header_too_long(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	assert_int_equal(max_header_bytes, 16384);
	/* Exactly max_header_bytes: fine, in short lines or in one long one. */
	req(request_of_size(16384, 100));
	resp(ok("1"));
	req(request_of_size(16384, 20000));
	resp(ok("2"));
	assert_series(KERNO_M_GET, "/big", 200, 2);
	/* One byte more: dropped, and its response unmatched. */
	req(request_of_size(16385, 100));
	assert_int_equal(conn()->dir[RX].state, KERNO_H_UNSYNC);
	resp(ok("3"));
	/* Over the limit across writes; the writes after it start no message. */
	req(strf("GET /big HTTP/1.1\r\n%s", pad_lines(9000, 50)));
	req(pad_lines(9000, 50));
	req(pad_lines(100, 50));
	req("\r\n");
	resp(ok("4"));
	/* Too long in a response. */
	req(get("/r"));
	resp(strf("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n%s\r\n", pad_lines(16400, 80)));
	assert_int_equal(conn()->fifo_head, conn()->fifo_tail);
	req(get("/after"));
	resp(ok("5"));
	assert_series(KERNO_M_GET, "/after", 200, 1);
	assert_int_equal(nseries(), 2);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_HEADER_TOO_LONG] = 3, [KERNO_DROP_UNPARSED] = 2,
		     [KERNO_DROP_UNMATCHED_RESPONSE] = 2);
}

static void test_closed_mid_message(void **state)
{
	/* In a request's headers. */
	open_conn(KERNO_ROLE_SERVER);
	req("GET /x HTTP/1.1\r\nHo");
	close_conn();
	ASSERT_DROPS([KERNO_DROP_CLOSED_MID_MESSAGE] = 1);

	/* In a request line. */
	setup(state);
	open_conn(KERNO_ROLE_SERVER);
	req("GET /x HT");
	close_conn();
	ASSERT_DROPS([KERNO_DROP_CLOSED_MID_MESSAGE] = 1);

	/* In a request body: the request was published, so no response either. */
	setup(state);
	open_conn(KERNO_ROLE_SERVER);
	req("PUT /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234");
	close_conn();
	ASSERT_DROPS([KERNO_DROP_CLOSED_MID_MESSAGE] = 1, [KERNO_DROP_NO_RESPONSE] = 1);

	/* In a response body: the response takes its request with it. */
	setup(state);
	open_conn(KERNO_ROLE_CLIENT);
	req(get("/x"));
	resp("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
	close_conn();
	ASSERT_DROPS([KERNO_DROP_CLOSED_MID_MESSAGE] = 1);

	/* In a chunked response, with two more requests waiting. */
	setup(state);
	open_conn(KERNO_ROLE_CLIENT);
	req(strf("%s%s%s", get("/a"), get("/b"), get("/c")));
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
	close_conn();
	ASSERT_DROPS([KERNO_DROP_CLOSED_MID_MESSAGE] = 1, [KERNO_DROP_NO_RESPONSE] = 2);

	/* Between messages, with requests unanswered; an idle close drops nothing. */
	setup(state);
	open_conn(KERNO_ROLE_SERVER);
	req(strf("%s%s", get("/a"), get("/b")));
	close_conn();
	ASSERT_DROPS([KERNO_DROP_NO_RESPONSE] = 2);
	setup(state);
	open_conn(KERNO_ROLE_SERVER);
	req(get("/a"));
	resp(ok(""));
	close_conn();
	ASSERT_DROPS();
	assert_int_equal(nseries(), 1);
}

static void test_adopted_connection(void **state)
{
	struct kerno_conn *c = open_conn(KERNO_ROLE_UNKNOWN);

	assert_int_equal(c->dir[RX].state, KERNO_H_UNSYNC);
	assert_int_equal(c->dir[TX].state, KERNO_H_UNSYNC);
	/* Opened before us: we join in the middle of a request body and its response. */
	feeds(RX, "the end of some request body that started before the agent\r\n");
	feeds(TX, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); /* syncs, unmatched */
	assert_int_equal(c->role, KERNO_ROLE_SERVER);
	assert_int_equal(c->dir[TX].flags & KERNO_F_STREAM, KERNO_F_RESPONSE);
	assert_int_equal(c->dir[RX].state, KERNO_H_UNSYNC);
	/* The first write that starts a request syncs RX: from then on, measured. */
	feeds(RX, get("/users/7"));
	assert_int_equal(c->dir[RX].flags & KERNO_F_STREAM, KERNO_F_REQUEST);
	assert_int_equal(c->dir[RX].state, KERNO_H_START);
	advance(MS);
	feeds(TX, ok("hi"));
	conn_role = KERNO_ROLE_SERVER;
	assert_int_equal(assert_series(KERNO_M_GET, "/users/{id}", 200, 1)->sum_ns, MS);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNPARSED] = 1, [KERNO_DROP_UNMATCHED_RESPONSE] = 1);

	/* Seen first from a response read: a client. A sync needs 16 bytes. */
	setup(state);
	c = open_conn(KERNO_ROLE_UNKNOWN);
	feeds(TX, "GET / HTTP/1.1"); /* 14 bytes: cannot tell */
	feeds(RX, "HTTP/1.1 204 No Content\r\n\r\n");
	assert_int_equal(c->role, KERNO_ROLE_CLIENT);
	feeds(TX, get("/next"));
	feeds(RX, ok(""));
	conn_role = KERNO_ROLE_CLIENT;
	assert_series(KERNO_M_GET, "/next", 200, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNPARSED] = 1, [KERNO_DROP_UNMATCHED_RESPONSE] = 1);
}

static void test_not_http(void **state)
{
	static const unsigned char tls_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
						   0x01, 0xfc, 0x03, 0x03, 0x5f, 0x1e, 0x2d,
						   0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96 };
	static const unsigned char with_lf[] = { 0x17, 0x03, 0x03, 0x00, 0x02, '\r', '\n' };
	struct kerno_conn *c = open_conn(KERNO_ROLE_UNKNOWN);
	int i;

	for (i = 0; i < 3; i++) {
		feed(RX, tls_hello, sizeof(tls_hello));
		assert_int_equal(c->dir[RX].state, KERNO_H_UNSYNC);
	}
	feed(TX, tls_hello, sizeof(tls_hello));
	feed(RX, tls_hello, sizeof(tls_hello));
	/* The fourth miss: this direction is not HTTP; later ones are not even looked at. */
	assert_int_equal(c->dir[RX].state, KERNO_H_STOPPED);
	assert_int_equal(c->dir[RX].sync_misses, 4);
	feed(RX, tls_hello, sizeof(tls_hello));
	feeds(RX, get("/too/late"));
	assert_int_equal(c->dir[TX].state, KERNO_H_UNSYNC);
	assert_int_equal(c->dir[TX].sync_misses, 1);
	assert_int_equal(c->rx_bytes, 5 * sizeof(tls_hello) + strlen(get("/too/late")));
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNPARSED] = 5);

	/*
	 * A stream known to be HTTP waits for a line end; at one, the line is
	 * no request. It then keeps looking for the next message, however long.
	 */
	setup(state);
	c = open_conn(KERNO_ROLE_SERVER);
	feed(RX, tls_hello, sizeof(tls_hello));
	assert_int_equal(c->dir[RX].state, KERNO_H_START);
	assert_int_equal(c->dir[RX].line_len, sizeof(tls_hello));
	feed(RX, with_lf, sizeof(with_lf));
	for (i = 0; i < 5; i++)
		feed(RX, tls_hello, sizeof(tls_hello));
	assert_int_equal(c->dir[RX].state, KERNO_H_UNSYNC);
	req(get("/back"));
	resp(ok(""));
	assert_series(KERNO_M_GET, "/back", 200, 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_BAD_MESSAGE] = 1, [KERNO_DROP_UNPARSED] = 5);
}

/* A chunked response of `n` one-byte chunks, in one write: 2 steps per chunk. */
static const char *tiny_chunks(unsigned int n)
{
	char *p = arena + arena_used, *q = p;
	unsigned int i;

	assert_true(arena_used + 64 + n * 6 + 8 < sizeof(arena));
	q += sprintf(q, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < n; i++)
		q += sprintf(q, "1\r\n%c\r\n", 'a' + i % 26);
	q += sprintf(q, "0\r\n\r\n");
	arena_used += q - p + 1;
	return p;
}

/* More than KERNO_MAX_STEPS steps in one write: the rest of it is not followed. */
static void test_scan_limit(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	req(get("/many"));
	resp(tiny_chunks(600)); /* 3 + 1200 + 2 steps */
	assert_int_equal(conn()->dir[TX].state, KERNO_H_UNSYNC);
	assert_int_equal(conn()->fifo_head, conn()->fifo_tail); /* the request went with it */
	req(get("/many"));
	resp(tiny_chunks(500)); /* 3 + 1000 + 2 steps: fine */
	assert_series(KERNO_M_GET, "/many", 200, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_SCAN_LIMIT] = 1);
}

static void test_series_table_full(void **state)
{
	struct kerno_scratch *sc = get_scratch();
	struct kerno_series_key k;
	__u32 i;

	open_conn(KERNO_ROLE_SERVER);
	req(get("/existing"));
	resp(ok(""));
	/* Other processes' series fill the table. */
	for (i = 1; i < 4096; i++) {
		k = series_key(KERNO_ROLE_SERVER, KERNO_M_GET, 200, "/other");
		k.tgid = TGID + i;
		assert_int_equal(bpf_map_update_elem(&series, &k, &sc->zero_series, BPF_NOEXIST),
				 0);
	}
	assert_int_equal(nseries(), 4096);
	req(get("/new"));
	resp(ok(""));
	req(get("/existing"));
	resp(ok(""));
	assert_series(KERNO_M_GET, "/existing", 200, 2);
	assert_null(find_series(KERNO_ROLE_SERVER, KERNO_M_GET, 200, "/new"));
	assert_int_equal(counter(KERNO_EV_REQUESTS), 2);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_SERIES_TABLE_FULL] = 1);
}

static void test_read_fault(void **state)
{
	const char *rq = get("/faulty/path/that/is/long/enough");
	char big[600];

	open_conn(KERNO_ROLE_SERVER);
	/* The whole write unreadable. */
	feed_faulting(RX, rq, strlen(rq), 0);
	assert_int_equal(conn()->dir[RX].state, KERNO_H_UNSYNC);
	/* Readable up to byte 300 of a 600-byte write: the third window read faults. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /x HTTP/1.1\r\nX-Long: ", 25);
	memcpy(big + 596, "\r\n\r\n", 4);
	feed_faulting(RX, big, sizeof(big), 300);
	assert_int_equal(conn()->dir[RX].state, KERNO_H_UNSYNC);
	resp(ok(""));
	/* Unsynced, a fault is only a write that starts no message. */
	feed_faulting(RX, rq, strlen(rq), 0);
	req(get("/fine"));
	resp(ok(""));
	assert_series(KERNO_M_GET, "/fine", 200, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	/* The second write syncs on its readable head, then faults. */
	ASSERT_DROPS([KERNO_DROP_READ_FAULT] = 2, [KERNO_DROP_UNPARSED] = 1,
		     [KERNO_DROP_UNMATCHED_RESPONSE] = 1);
}

/* Lines at the edges of what the parsers accept. */
static void test_edge_lines(void **state)
{
	struct kerno_conn *c;

	/* An empty line before a request line is ignored (RFC 9112, 2.2). */
	open_conn(KERNO_ROLE_SERVER);
	req("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nab\r\n");
	resp(ok(""));
	req("\r\n");
	req(get("/b"));
	resp(ok(""));
	/* Blanks around a Content-Length value. */
	req("PUT /c HTTP/1.1\r\nContent-Length:\t 3 \r\n\r\nabc");
	resp(ok(""));
	assert_series(KERNO_M_POST, "/a", 200, 1);
	assert_series(KERNO_M_GET, "/b", 200, 1);
	assert_series(KERNO_M_PUT, "/c", 200, 1);
	close_conn();
	ASSERT_DROPS();

	/* Numbers too long to be sizes; a method token of 16 capitals. */
	setup(state);
	open_conn(KERNO_ROLE_SERVER);
	req("ABCDEFGHIJKLMNOP /e HTTP/1.1\r\n\r\n");
	/* (Unsynced now: only a known method can start a message again.) */
	req("POST /d HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n");
	/* A malformed chunk size after the headers: the request still has its response. */
	req("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\nx\r\n0\r\n\r\n");
	resp(ok(""));
	assert_series(KERNO_M_POST, "/f", 200, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_BAD_MESSAGE] = 3);

	/* A response whose final coding is not chunked runs to the close (RFC 9112, 6.3). */
	setup(state);
	c = open_conn(KERNO_ROLE_CLIENT);
	req(get("/g"));
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b");
	assert_int_equal(c->dir[RX].state, KERNO_H_BODY_EOF);
	http1_skip_opaque(c, RX, 5000, shim_now_ns, KERNO_DROP_OPAQUE_BYTES); /* no harm */
	advance(MS);
	close_conn();
	assert_int_equal(assert_series(KERNO_M_GET, "/g", 200, 1)->sum_ns, MS);
	ASSERT_DROPS();

	/* sendfile of a whole chunk and its CRLF. */
	setup(state);
	c = open_conn(KERNO_ROLE_SERVER);
	req(get("/h"));
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n");
	http1_skip_opaque(c, TX, 12, shim_now_ns, KERNO_DROP_OPAQUE_BYTES);
	assert_int_equal(c->dir[TX].state, KERNO_H_CHUNK_SIZE);
	resp("0\r\n\r\n");
	assert_series(KERNO_M_GET, "/h", 200, 1);
	close_conn();
	ASSERT_DROPS();
}

/* sendfile: the bytes cannot be read, only counted. */
static void test_opaque_bytes(void **state)
{
	struct kerno_conn *c;

	c = open_conn(KERNO_ROLE_SERVER);
	req(get("/file"));
	resp("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
	http1_skip_opaque(c, TX, 60000, shim_now_ns, KERNO_DROP_OPAQUE_BYTES);
	advance(MS);
	http1_skip_opaque(c, TX, 40000, shim_now_ns, KERNO_DROP_OPAQUE_BYTES);
	assert_int_equal(assert_series(KERNO_M_GET, "/file", 200, 1)->sum_ns, MS);
	/* Outside a body they lose the stream until the next message. */
	http1_skip_opaque(c, TX, 10, shim_now_ns, KERNO_DROP_OPAQUE_BYTES);
	assert_int_equal(c->dir[TX].state, KERNO_H_UNSYNC);
	req(get("/file"));
	resp(ok("x"));
	assert_series(KERNO_M_GET, "/file", 200, 2);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_OPAQUE_BYTES] = 1);
}

/*
 * ---- regressions ----
 * Bugs these tests and the fuzzer found in the parser, each kept as the
 * test that showed it.
 */

/*
 * After a give-up, a server's TX stream resyncs on a write that starts with
 * request text (an echo, a proxied body) and becomes a request stream: it
 * queues a request that never was, and every later response on the
 * connection is matched to the request before its own.
 */
static void test_regression_resync_flips_stream(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	req(get("/a"));
	resp("HTTP/1.1 200 OK\r\nContent-Length: bad\r\n\r\n");
	resp("GET /echoed HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(conn()->dir[TX].flags & KERNO_F_STREAM, KERNO_F_RESPONSE);
	req(get("/b"));
	resp(status_only(201));
	req(get("/c"));
	resp(status_only(202));
	assert_series(KERNO_M_GET, "/b", 201, 1);
	assert_series(KERNO_M_GET, "/c", 202, 1);
	assert_int_equal(nseries(), 2);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_BAD_MESSAGE] = 1, [KERNO_DROP_UNPARSED] = 1);
}

/*
 * An adopted connection whose two directions both sync on requests has two
 * request streams feeding one FIFO, each checking for room only at its own
 * start line: fifo_tail - fifo_head reaches 17 and slot 0 is overwritten.
 */
static void test_regression_fifo_overflow(void **state)
{
	size_t used = 0;
	char *all;
	int i;

	all = malloc(16 * 32);
	assert_non_null(all);
	open_conn(KERNO_ROLE_UNKNOWN);
	for (i = 0; i < 15; i++)
		used += sprintf(all + used, "GET /r%d HTTP/1.1\r\n\r\n", i);
	sprintf(all + used, "GET /x HTTP/1.1\r\n");
	feeds(RX, all);
	free(all);
	feeds(TX, "GET /y HTTP/1.1\r\nHost: x\r\n");
	feeds(RX, "\r\n");
	feeds(TX, "\r\n");
	assert_true(conn()->fifo_tail - conn()->fifo_head <= KERNO_FIFO_LEN);
	assert_int_equal(conn()->dir[TX].flags & KERNO_F_STREAM, 0);
}

/*
 * An adopted connection: its TX direction, met in the middle of a long
 * response, stops for good after 4 writes that start no message, although
 * RX has already shown the connection is HTTP. Nothing on it is measured
 * again; its requests pile up until FIFO_FULL and NO_RESPONSE. Same when
 * TX stops first and RX syncs after.
 */
static void test_regression_adopted_direction_stops(void **state)
{
	const char *body = "....the rest of a long response that began before the agent....";
	int i;

	open_conn(KERNO_ROLE_UNKNOWN);
	feeds(RX, get("/one"));
	for (i = 0; i < 4; i++)
		feeds(TX, body);
	assert_int_not_equal(conn()->dir[TX].state, KERNO_H_STOPPED);
	feeds(TX, ok("1"));
	conn_role = KERNO_ROLE_SERVER;
	assert_series(KERNO_M_GET, "/one", 200, 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNPARSED] = 4);

	setup(state);
	open_conn(KERNO_ROLE_UNKNOWN);
	for (i = 0; i < 4; i++)
		feeds(TX, body);
	feeds(RX, get("/two"));
	feeds(TX, ok("2"));
	conn_role = KERNO_ROLE_SERVER;
	assert_series(KERNO_M_GET, "/two", 200, 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_UNPARSED] = 4);
}

/*
 * A status line shorter than "HTTP/1.x NNN" is judged on bytes past its end:
 * "HTTP/1.\n" (l[7] is any byte) after a read that left " 299" at win[8..11]
 * parses as status 299 instead of a bad message.
 */
static void test_regression_short_status_line(void **state)
{
	open_conn(KERNO_ROLE_CLIENT);
	req(get("/a"));
	req(get("/b"));
	resp("HTTP/1.1 299 OK\r\nContent-Length: 0\r\n\r\n");
	resp("HTTP/1.\n");
	resp("Content-Length: 0\r\n\r\n");
	assert_series(KERNO_M_GET, "/a", 299, 1);
	assert_int_equal(nseries(), 1);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_BAD_MESSAGE] = 1, [KERNO_DROP_UNPARSED] = 1);
}

/*
 * "Transfer-Encoding: chunked " (whitespace after the value, which RFC 9110
 * 5.5 excludes from it) is not seen as chunked: the response then runs to
 * the close, measured then with the wrong latency, and the next one is lost.
 */
static void test_regression_chunked_trailing_space(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	req(get("/f"));
	resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n");
	req(get("/g"));
	resp(ok(""));
	assert_series(KERNO_M_GET, "/f", 200, 1);
	assert_series(KERNO_M_GET, "/g", 200, 1);
	close_conn();
	ASSERT_DROPS();
}

/*
 * After a request was dropped with the FIFO full, a request queued later
 * (once a response made room) is matched to the dropped one's response.
 * Here /pq is dropped; /pr, sent after the first response, gets the status
 * of /pq's response (226) and its own (227) is unmatched.
 */
static void test_regression_fifo_full_shifts_matching(void **state)
{
	char *all;
	size_t used = 0;
	unsigned int i;

	all = malloc(17 * 32);
	assert_non_null(all);
	open_conn(KERNO_ROLE_SERVER);
	for (i = 0; i < 17; i++)
		used += sprintf(all + used, "GET /p%c HTTP/1.1\r\n\r\n", 'a' + i);
	req(all);
	free(all);
	resp(status_only(210));
	req(get("/pr"));
	for (i = 1; i < 18; i++)
		resp(status_only(210 + i));
	for (i = 0; i < 16; i++)
		assert_series(KERNO_M_GET, strf("/p%c", 'a' + i), 210 + i, 1);
	assert_null(find_series(KERNO_ROLE_SERVER, KERNO_M_GET, 226, "/pr"));
	assert_series(KERNO_M_GET, "/pr", 227, 1);
	assert_int_equal(nseries(), 17);
	close_conn();
	ASSERT_DROPS([KERNO_DROP_FIFO_FULL] = 1);
}

/*
 * Chunk data counted off by http1_skip_opaque() (sendfile; any write that
 * lies inside a body, if on_data ever skips those) ends the chunk without
 * resetting header_bytes, as skip_body() does: the chunk-size lines of a
 * long chunked stream add up until header_too_long drops it (at 5461
 * chunks of "e\r\n" here).
 */
static void test_regression_skipped_chunks_add_up(void **state)
{
	struct kerno_conn *c;
	int i;

	c = open_conn(KERNO_ROLE_SERVER);
	req(get("/events"));
	resp("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 6000; i++) {
		resp("e\r\n");
		http1_skip_opaque(c, TX, 16, shim_now_ns,
				  KERNO_DROP_OPAQUE_BYTES); /* "data: ...\n\r\n" */
	}
	resp("0\r\n\r\n");
	assert_series(KERNO_M_GET, "/events", 200, 1);
	close_conn();
	ASSERT_DROPS();
}

/*
 * CONNECT's authority-form target ("host:port") is refused as a bad
 * message, and a 2xx to CONNECT is not taken as the start of a tunnel (the
 * response would run to the close, the tunnel bytes counted as unparsed).
 */
static void test_regression_connect(void **state)
{
	open_conn(KERNO_ROLE_SERVER);
	req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
	resp("HTTP/1.1 200 Connection Established\r\n\r\n");
	feeds(RX, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 client hello bytes");
	feeds(TX, "\x16\x03\x03\x00\x5a\x02\x00\x00 server hello bytes");
	assert_series(KERNO_M_CONNECT, "example.com:443", 200, 1);
	close_conn();
	ASSERT_DROPS();
}

/* ---- property: where the bytes are split does not change what is measured ---- */

struct msg {
	__u32 dir; /* RX or TX of a server */
	const char *bytes;
};

struct conversation {
	const char *name;
	__u8 role;
	__u64 exchanges;
	const struct msg *msgs;
	size_t n;
};

static const struct msg conv_keepalive[] = {
	{ RX, "GET /users/123 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n" },
	{ TX, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n"
	      "Hello, world!" },
	{ RX,
	  "POST /users HTTP/1.1\r\nHost: a\r\nContent-Length: 18\r\n\r\n{\"name\":\"kerno!\"}\n" },
	{ TX, "HTTP/1.1 201 Created\r\nLocation: /users/124\r\ncontent-length: 0\r\n\r\n" },
	{ RX, "DELETE /users/124 HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ TX, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot there" },
};

static const struct msg conv_chunked[] = {
	{ RX, "POST /upload/9f86d081884c7d65 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	      "\r\n5;a=b\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n" },
	{ TX, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	      "Server: x\r\n\r\n4\r\nwiki\r\n5;ext=\"q\"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
	      "0\r\nExpires: never\r\n\r\n" },
	{ RX, "GET /a/b/c HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ TX, "HTTP/1.1 500 Oops\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\n"
	      "10\r\n0123456789abcdef\r\n0\r\n\r\n" },
};

/* Each request and response its own message: merged runs cut them anywhere. */
static const struct msg conv_pipelined[] = {
	{ RX, "GET /p/1 HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ RX, "HEAD /p/2 HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ RX, "PUT /p/3 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde" },
	{ RX, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ RX, "GET /p/5?x=y HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ TX, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none" },
	{ TX, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" },
	{ TX, "HTTP/1.1 204 No Content\r\n\r\n" },
	{ TX, "HTTP/1.1 200 OK\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n" },
	{ TX, "HTTP/1.1 304 Not Modified\r\nETag: \"abc\"\r\n\r\n" },
	{ RX,
	  "GET /long/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n"
	  "X-Long: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n" },
	{ TX, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
	/* A client writing two requests at once. */
	{ RX, "GET /q HTTP/1.1\r\nHost: a\r\n\r\nPOST /q HTTP/1.1\r\nHost: a\r\n"
	      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" },
	{ TX, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1" },
	{ TX, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n2\r\n0\r\n\r\n" },
};

static const struct msg conv_close[] = {
	{ TX, "GET /stream HTTP/1.0\r\nHost: a\r\n\r\n" },
	{ RX, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body\r\n\r\nthat runs until "
	      "the connection closes\r\n" },
};

static const struct conversation conversations[] = {
	{ "keepalive", KERNO_ROLE_SERVER, 3, conv_keepalive,
	  sizeof(conv_keepalive) / sizeof(conv_keepalive[0]) },
	{ "chunked", KERNO_ROLE_SERVER, 2, conv_chunked,
	  sizeof(conv_chunked) / sizeof(conv_chunked[0]) },
	{ "pipelined", KERNO_ROLE_SERVER, 8, conv_pipelined,
	  sizeof(conv_pipelined) / sizeof(conv_pipelined[0]) },
	{ "close-delimited", KERNO_ROLE_CLIENT, 1, conv_close,
	  sizeof(conv_close) / sizeof(conv_close[0]) },
};

/* What a run measured: every series and every counter. */
#define MAX_SNAP 16

struct snapshot {
	__u32 n;
	struct kerno_series_key key[MAX_SNAP];
	struct kerno_series_val val[MAX_SNAP];
	__u64 counters[KERNO_COUNTER__COUNT];
};

static void take_snapshot(struct snapshot *s)
{
	struct kerno_series_key k, next;
	const void *prev = NULL;
	__u32 i;

	memset(s, 0, sizeof(*s));
	while (!shim_map_get_next_key(SHIM_MAP(&series), prev, &next)) {
		assert_true(s->n < MAX_SNAP);
		s->key[s->n] = next;
		s->val[s->n] = *(struct kerno_series_val *)bpf_map_lookup_elem(&series, &next);
		s->n++;
		k = next;
		prev = &k;
	}
	for (i = 0; i < KERNO_COUNTER__COUNT; i++)
		s->counters[i] = counter(i);
}

/* Same series (same keys: statuses, methods, paths) with the same counts; whole values if exact. */
static int same_snapshot(const struct snapshot *a, const struct snapshot *b, int exact)
{
	__u32 i, j;

	if (a->n != b->n || memcmp(a->counters, b->counters, sizeof(a->counters)))
		return 0;
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n; j++)
			if (!memcmp(&a->key[i], &b->key[j], sizeof(a->key[i])))
				break;
		if (j == b->n || a->val[i].count != b->val[j].count)
			return 0;
		if (exact && memcmp(&a->val[i], &b->val[j], sizeof(a->val[i])))
			return 0;
	}
	return 1;
}

static __u64 rng_state;

static __u64 rng(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

/*
 * Run a conversation. Without a seed each message is one read or write;
 * with one, each message (or, if merge, each run of messages in the same
 * direction) is cut at random points. The clock moves one millisecond per
 * message, not per piece, so that latencies do not depend on the cuts.
 */
static void run_conversation(const struct conversation *cv, __u64 seed, int merge,
			     struct snapshot *out)
{
	size_t i = 0, j, len, off, cut;
	char *buf;

	setup(NULL);
	open_conn(cv->role);
	rng_state = seed;
	while (i < cv->n) {
		/* Messages i .. j-1 go in one stream run. */
		for (j = i + 1, len = strlen(cv->msgs[i].bytes); merge && j < cv->n; j++) {
			if (cv->msgs[j].dir != cv->msgs[i].dir)
				break;
			len += strlen(cv->msgs[j].bytes);
		}
		buf = malloc(len);
		assert_non_null(buf);
		for (off = 0; i < j; i++) {
			memcpy(buf + off, cv->msgs[i].bytes, strlen(cv->msgs[i].bytes));
			off += strlen(cv->msgs[i].bytes);
		}
		for (off = 0; off < len; off = cut) {
			cut = len;
			if (seed) {
				switch (rng() % 4) {
				case 0: /* 1 to 4 bytes */
					cut = off + 1 + rng() % 4;
					break;
				case 1:
				case 2:
					cut = off + 1 + rng() % 80;
					break;
				default: /* the rest */
					break;
				}
				if (cut > len)
					cut = len;
			}
			feed(cv->msgs[i - 1].dir, buf + off, cut - off);
		}
		free(buf);
		advance(MS);
	}
	close_conn();
	take_snapshot(out);
}

static void test_split_anywhere(void **state)
{
	static struct snapshot ref, got;
	size_t c;
	__u64 seed;
	__u32 i;

	for (c = 0; c < sizeof(conversations) / sizeof(conversations[0]); c++) {
		const struct conversation *cv = &conversations[c];

		run_conversation(cv, 0, 0, &ref);
		/* The unsplit run itself is right: all exchanges measured, nothing dropped. */
		assert_int_equal(ref.counters[KERNO_EV_REQUESTS], cv->exchanges);
		for (i = 0; i < KERNO_DROP__COUNT; i++)
			assert_int_equal(ref.counters[i], 0);
		for (seed = 1; seed <= 1000; seed++) {
			int merge = seed & 1;

			run_conversation(cv, seed * 0x9e3779b97f4a7c15ULL, merge, &got);
			if (!same_snapshot(&ref, &got, !merge)) {
				print_all_series();
				fail_msg(
					"conversation %s, seed %llu (merge %d): not what the unsplit "
					"run measured",
					cv->name, (unsigned long long)seed, merge);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_shim_helpers, setup),
		cmocka_unit_test_setup(test_keepalive_server, setup),
		cmocka_unit_test_setup(test_keepalive_client, setup),
		cmocka_unit_test_setup(test_templates, setup),
		cmocka_unit_test_setup(test_templates_plain_random, setup),
		cmocka_unit_test_setup(test_latency_buckets, setup),
		cmocka_unit_test_setup(test_latency_span, setup),
		cmocka_unit_test_setup(test_pipelining_8, setup),
		cmocka_unit_test_setup(test_pipelining_17, setup),
		cmocka_unit_test_setup(test_pipelining_responses_together, setup),
		cmocka_unit_test_setup(test_chunked, setup),
		cmocka_unit_test_setup(test_content_length_every_split, setup),
		cmocka_unit_test_setup(test_head_with_length, setup),
		cmocka_unit_test_setup(test_interim_responses, setup),
		cmocka_unit_test_setup(test_upgrade_101, setup),
		cmocka_unit_test_setup(test_204_304, setup),
		cmocka_unit_test_setup(test_close_delimited, setup),
		cmocka_unit_test_setup(test_unmatched_response, setup),
		cmocka_unit_test_setup(test_bad_message, setup),
		cmocka_unit_test_setup(test_header_too_long, setup),
		cmocka_unit_test_setup(test_closed_mid_message, setup),
		cmocka_unit_test_setup(test_adopted_connection, setup),
		cmocka_unit_test_setup(test_not_http, setup),
		cmocka_unit_test_setup(test_scan_limit, setup),
		cmocka_unit_test_setup(test_series_table_full, setup),
		cmocka_unit_test_setup(test_read_fault, setup),
		cmocka_unit_test_setup(test_opaque_bytes, setup),
		cmocka_unit_test_setup(test_edge_lines, setup),
		cmocka_unit_test_setup(test_split_anywhere, setup),
		cmocka_unit_test_setup(test_regression_resync_flips_stream, setup),
		cmocka_unit_test_setup(test_regression_fifo_overflow, setup),
		cmocka_unit_test_setup(test_regression_adopted_direction_stops, setup),
		cmocka_unit_test_setup(test_regression_short_status_line, setup),
		cmocka_unit_test_setup(test_regression_chunked_trailing_space, setup),
		cmocka_unit_test_setup(test_regression_fifo_full_shifts_matching, setup),
		cmocka_unit_test_setup(test_regression_skipped_chunks_add_up, setup),
		cmocka_unit_test_setup(test_regression_connect, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
