// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Options from defaults, config file, environment and command line: see config.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define OPT(field) offsetof(struct kerno_config, field)
#define DAY (24 * 3600LL)

const struct kerno_opt kerno_options[] = {
	{ "data-dir", KERNO_OPT_STR, "./kerno-data", 0, 0, OPT(data_dir), "DIR",
	  "where objects/ and uplink/ are written" },
	{ "interval", KERNO_OPT_SECS, "10", 1, DAY, OPT(interval), "SECS",
	  "drain and flush period" },
	{ "duration", KERNO_OPT_SECS, "0", 0, 365 * DAY, OPT(duration), "SECS",
	  "run that long, flush and exit; 0: until SIGINT or SIGTERM" },
	{ "max-conns", KERNO_OPT_INT, "8192", 1, 1 << 24, OPT(max_conns), "N",
	  "connections tracked at once" },
	{ "max-series", KERNO_OPT_INT, "4096", 1, 1 << 24, OPT(max_series), "N",
	  "metric series kept by the kernel" },
	{ "max-series-per-process", KERNO_OPT_INT, "200", 0, 1 << 24, OPT(max_series_per_process),
	  "N", "series per process and interval before 'other' (0: no limit)" },
	{ "max-processes", KERNO_OPT_INT, "4096", 1, 1 << 20, OPT(max_processes), "N",
	  "processes whose names and drops the kernel keeps at once (more: proc_table_full)" },
	{ "max-header-bytes", KERNO_OPT_INT, "16384", 256, 1 << 20, OPT(max_header_bytes), "N",
	  "HTTP header block size past which a message is dropped" },
	{ "errors", KERNO_OPT_BOOL, "true", 0, 0, OPT(errors), NULL,
	  "count errors in the kernel (failed connects, resets, retransmissions, OOM kills, "
	  "fatal signals) and send them as error groups" },
	{ "max-error-groups", KERNO_OPT_INT, "4096", 1, 1 << 24, OPT(max_error_groups), "N",
	  "error groups the kernel counts at once (class, code, workload, endpoint); more are "
	  "counted as dropped" },
	{ "host-name", KERNO_OPT_STR, NULL, 0, 0, OPT(host_name), "NAME",
	  "host.name of the telemetry (default: the system's host name)" },
	{ "proc-root", KERNO_OPT_STR, "/proc", 0, 0, OPT(proc_root), "DIR",
	  "the host's /proc (in a container without the host's PID namespace: a read-only mount of it)" },
	{ "pin-dir", KERNO_OPT_STR, "/sys/fs/bpf/kerno", 0, 0, OPT(pin_dir), "DIR",
	  "where the BPF maps are pinned" },
	{ "cloud-url", KERNO_OPT_STR, NULL, 0, 0, OPT(cloud_url), "URL",
	  "send envelopes to the cloud over one WebSocket (wss://HOST[:PORT]/PATH) instead of "
	  "DATA_DIR/uplink/*.ndjson; HTTPS_PROXY and NO_PROXY apply" },
	{ "cloud-token-file", KERNO_OPT_STR, NULL, 0, 0, OPT(cloud_token_file), "FILE",
	  "bearer token for the cloud, read again at every connection (a mounted Secret)" },
	{ "cloud-ca-file", KERNO_OPT_STR, NULL, 0, 0, OPT(cloud_ca_file), "FILE",
	  "PEM CA bundle the cloud's certificate is verified against (default: the system's)" },
	{ "cloud-key-file", KERNO_OPT_STR, NULL, 0, 0, OPT(cloud_key_file), "FILE",
	  "key sealing the uplink's disk queue, created 0600 if absent (default: "
	  "DATA_DIR/uplink/queue.key)" },
	{ "cloud-queue-bytes", KERNO_OPT_INT, "67108864", 4096, 1LL << 40, OPT(cloud_queue_bytes),
	  "BYTES", "bound of the uplink's disk queue; envelopes past it are counted and reported" },
	{ "cloud-ping", KERNO_OPT_SECS, "20", 1, 3600, OPT(cloud_ping), "SECS",
	  "ping the cloud after this long without a frame from it; drop the connection after twice "
	  "it" },
	{ "cloud-heartbeat", KERNO_OPT_SECS, "30", 1, DAY, OPT(cloud_heartbeat), "SECS",
	  "period of the heartbeat envelope (queue state, overflow, reconnects)" },
	{ "cloud-close-timeout", KERNO_OPT_SECS, "5", 1, 300, OPT(cloud_close_timeout), "SECS",
	  "how long to wait for the cloud's close frame before closing the TCP connection" },
	{ "cloud-flush-timeout", KERNO_OPT_SECS, "5", 0, 3600, OPT(cloud_flush_timeout), "SECS",
	  "at exit, how long to wait for the cloud to acknowledge what is queued (the rest is kept)" },
	{ "cloud-deflate", KERNO_OPT_BOOL, "true", 0, 0, OPT(cloud_deflate), NULL,
	  "offer permessage-deflate compression to the cloud" },
	{ "refresh", KERNO_OPT_SECS, "2", 1, DAY, OPT(refresh), "SECS",
	  "kerno top: seconds between screens" },
	{ "iterations", KERNO_OPT_INT, "0", 0, 1 << 30, OPT(iterations), "N",
	  "kerno top: screens to show before exiting; 0: until interrupted" },
	{ "ignore-process", KERNO_OPT_STR, NULL, 0, 0, OPT(ignore_process), "NAMES",
	  "command names (comm) whose connections are not measured, comma-separated, at most 4" },
	{ "hook", KERNO_OPT_STR, "auto", 0, 0, OPT(hook), "NAME",
	  "where the capture hooks in: auto (the best this kernel has), sock (Linux 6.3+), "
	  "fexit, sys_exit or raw_tp" },
	{ "disable-hooks", KERNO_OPT_STR, NULL, 0, 0, OPT(disable_hooks), "NAMES",
	  "flavours to treat as missing from this kernel, comma-separated (tests of the fallbacks)" },
	{ "tls-capture", KERNO_OPT_BOOL, "true", 0, 0, OPT(tls_capture), NULL,
	  "measure HTTPS too: uprobes on OpenSSL, BoringSSL and Go crypto/tls in every process" },
	{ "verbose", KERNO_OPT_BOOL, "false", 0, 0, OPT(verbose), NULL,
	  "log more, including libbpf's debug output" },
	{ "spans", KERNO_OPT_BOOL, "true", 0, 0, OPT(spans), NULL,
	  "sample HTTP spans in the kernel and store them as OTLP traces in the object store" },
	{ "span-baseline", KERNO_OPT_INT, "100", 0, 10000, OPT(span_baseline), "BP",
	  "traces kept whatever their outcome, in basis points (100: 1 %; decided by trace id)" },
	{ "span-slow-ms", KERNO_OPT_INT, "0", 0, 3600000, OPT(span_slow_ms), "MS",
	  "requests slower than this are sampled; 0: per endpoint, its own p99 (1 s until known)" },
	{ "span-rate-cap", KERNO_OPT_INT, "100", 0, 1 << 24, OPT(span_rate_cap), "N",
	  "spans kept per endpoint and second at most (0: no cap); the rest are counted" },
	{ "span-payload-bytes", KERNO_OPT_INT, "1024", 0, 4096, OPT(span_payload_bytes), "BYTES",
	  "first bytes of request and response kept with a sampled span, redacted (0: none)" },
	{ "span-payload-conns", KERNO_OPT_INT, "1024", 1, 1 << 20, OPT(span_payload_conns), "N",
	  "connections whose request head the kernel holds at once (8 KiB each)" },
	{ "span-ringbuf-bytes", KERNO_OPT_INT, "4194304", 4096, 1 << 30, OPT(span_ringbuf_bytes),
	  "BYTES", "size of the kernel's span ring buffer, a power of two; full: counted drops" },
	{ "h2-ringbuf-bytes", KERNO_OPT_INT, "4194304", 4096, 1 << 30, OPT(h2_ringbuf_bytes),
	  "BYTES",
	  "size of the kernel's HTTP/2 event ring buffer (header blocks, stream ends), "
	  "a power of two; full: counted drops (h2_events_lost)" },
	{ "s3-bucket", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_bucket), "NAME",
	  "upload logs and traces to this S3 bucket (default: DATA_DIR/objects/)" },
	{ "s3-region", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_region), "REGION",
	  "the bucket's region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)" },
	{ "s3-endpoint", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_endpoint), "URL",
	  "https://HOST[:PORT] of an S3-compatible store, addressed path-style (default: AWS)" },
	{ "s3-prefix", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_prefix), "PREFIX",
	  "key prefix of the objects in the bucket (default: --object-prefix)" },
	{ "s3-ca-file", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_ca_file), "FILE",
	  "PEM CA bundle to verify the store with (default: the system's)" },
	{ "s3-sse", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_sse), "MODE",
	  "server-side encryption: AES256 (SSE-S3) or aws:kms (SSE-KMS); empty: the bucket's default" },
	{ "s3-kms-key-id", KERNO_OPT_STR, NULL, 0, 0, OPT(s3_kms_key_id), "KEY",
	  "KMS key for --s3-sse aws:kms (default: the AWS managed key)" },
	{ "s3-part-size", KERNO_OPT_INT, "8388608", 5 << 20, 1LL << 30, OPT(s3_part_size), "BYTES",
	  "multipart part size; larger objects go by multipart upload" },
	{ "s3-connections", KERNO_OPT_INT, "4", 1, 64, OPT(s3_connections), "N",
	  "uploads at once (HTTP/1.1 connections, or h2 streams on one)" },
	{ "spool-dir", KERNO_OPT_STR, NULL, 0, 0, OPT(spool_dir), "DIR",
	  "encrypted spool of objects not yet uploaded (default: DATA_DIR/spool)" },
	{ "spool-max-bytes", KERNO_OPT_INT, "1073741824", 1 << 20, 1LL << 50, OPT(spool_max_bytes),
	  "BYTES", "spool size past which new objects are refused (backpressure)" },
	{ "spool-key-file", KERNO_OPT_STR, NULL, 0, 0, OPT(spool_key_file), "FILE",
	  "32-byte AES-256 key of the spool, created 0600 when absent (default: DATA_DIR/spool.key)" },
	{ "logs", KERNO_OPT_LIST, NULL, 0, 0, OPT(logs), "GLOB",
	  "also collect the log files matching GLOB (repeatable; values from all sources add up)" },
	{ "log-pods-root", KERNO_OPT_STR, "/var/log/pods", 0, 0, OPT(log_pods_root), "DIR",
	  "Kubernetes container logs (<ns>_<pod>_<uid>/<container>/N.log, CRI format); empty: none" },
	{ "log-docker-root", KERNO_OPT_STR, "/var/lib/docker/containers", 0, 0,
	  OPT(log_docker_root), "DIR", "Docker json-file logs (<id>/<id>-json.log); empty: none" },
	{ "log-keep-all", KERNO_OPT_BOOL, "false", 0, 0, OPT(log_keep_all), NULL,
	  "store every log record, not only errors, new templates and the baseline" },
	{ "log-first", KERNO_OPT_INT, "3", 0, 1 << 20, OPT(log_first), "N",
	  "records of each new log template always stored" },
	{ "log-sample-every", KERNO_OPT_INT, "100", 1, 1 << 30, OPT(log_sample_every), "N",
	  "past those, one record in N of a template is stored, weighted N" },
	{ "log-rate-limit", KERNO_OPT_INT, "1000", 0, 1 << 30, OPT(log_rate_limit), "N",
	  "records a second stored per log file beyond warnings and errors (0: no cap)" },
	{ "log-max-line-bytes", KERNO_OPT_INT, "65536", 256, 16 << 20, OPT(log_max_line_bytes), "N",
	  "longest log record (merged partial lines, joined stack traces); longer ones are cut" },
	{ "log-max-files", KERNO_OPT_INT, "1024", 1, 1 << 20, OPT(log_max_files), "N",
	  "log files followed at once" },
	{ "log-max-templates", KERNO_OPT_INT, "4096", 16, 1 << 22, OPT(log_max_templates), "N",
	  "log templates remembered (least recently seen ones make room)" },
	{ "log-rotate-wait", KERNO_OPT_SECS, "5", 0, DAY, OPT(log_rotate_wait), "SECS",
	  "how long a rotated-away or deleted log file is still read after its last growth" },
	{ "log-scan-interval", KERNO_OPT_SECS, "1", 1, DAY, OPT(log_scan_interval), "SECS",
	  "globs are rescanned this often even without inotify events" },
	{ "object-prefix", KERNO_OPT_STR, "", 0, 0, OPT(object_prefix), "PREFIX",
	  "first component of object keys (<prefix>/logs/year=...)" },
	{ "object-max-bytes", KERNO_OPT_INT, "8388608", 65536, 1LL << 30, OPT(object_max_bytes),
	  "N", "JSON bytes that seal an object (the gzip object is smaller)" },
	{ "object-max-age", KERNO_OPT_SECS, "60", 1, DAY, OPT(object_max_age), "SECS",
	  "age that seals an object however small" },
	{ "object-max-pending-bytes", KERNO_OPT_INT, "268435456", 0, 1LL << 40,
	  OPT(object_max_pending_bytes), "N",
	  "bytes the storage backend may hold in flight before readers pause" },
	{ "nanobe", KERNO_OPT_STR, NULL, 0, 0, OPT(nanobe), "HOST:PORT",
	  "kerno preon: where Nanobe listens (HTTP/2 over TLS)" },
	{ "ca-file", KERNO_OPT_STR, NULL, 0, 0, OPT(ca_file), "FILE",
	  "kerno preon: CA bundle (PEM) that signed Nanobe's certificate; default: the system's" },
	{ "token-file", KERNO_OPT_STR, NULL, 0, 0, OPT(token_file), "FILE",
	  "kerno preon, kerno nanobe: the shared bearer token (required)" },
	{ "listen", KERNO_OPT_STR, "0.0.0.0:4318", 0, 0, OPT(listen), "HOST:PORT",
	  "kerno nanobe: address to accept Preons and OTLP/HTTP senders on (port 0: any)" },
	{ "tls-cert", KERNO_OPT_STR, NULL, 0, 0, OPT(tls_cert), "FILE",
	  "kerno nanobe: server certificate chain (PEM), from the cluster-internal CA" },
	{ "tls-key", KERNO_OPT_STR, NULL, 0, 0, OPT(tls_key), "FILE",
	  "kerno nanobe: the certificate's private key (PEM)" },
	{ "cgroup", KERNO_OPT_STR, NULL, 0, 0, OPT(cgroup), "DIR",
	  "kerno preon: measure only processes in this cgroup v2 subtree (default: all)" },
	{ "preon-spool-max-bytes", KERNO_OPT_INT, "268435456", 65536, 1LL << 40,
	  OPT(preon_spool_max_bytes), "N",
	  "kerno preon: disk for batches Nanobe has not taken yet; the oldest go past it" },
	{ "preon-spool-key", KERNO_OPT_STR, NULL, 0, 0, OPT(preon_spool_key), "FILE",
	  "kerno preon: 32-byte key sealing its spool (created if absent; default "
	  "DATA_DIR/preon-spool.key)" },
	{ "max-body", KERNO_OPT_INT, "16777216", 1024, 1LL << 30, OPT(max_body), "N",
	  "kerno nanobe: largest request body accepted (413 past it)" },
	{ "max-merged-series", KERNO_OPT_INT, "65536", 16, 1 << 24, OPT(max_merged_series), "N",
	  "kerno nanobe: merged series held at once; past it senders get 503 and retry" },
	{ "merge-by", KERNO_OPT_STR, "workload", 0, 0, OPT(merge_by), "LEVEL",
	  "kerno nanobe: workload (series of all pods and nodes add up) or pod (kept per pod)" },
	{ "kubeconfig", KERNO_OPT_STR, NULL, 0, 0, OPT(kubeconfig), "FILE",
	  "Kubernetes API access from outside the cluster (default: in-cluster when there)" },
	{ "kube-api", KERNO_OPT_STR, "auto", 0, 0, OPT(kube_api), "MODE",
	  "auto (in-cluster if KUBERNETES_SERVICE_HOST is set, else --kubeconfig if given), "
	  "in-cluster, kubeconfig or off" },
	{ "config", KERNO_OPT_STR, NULL, 0, 0, OPT(config), "FILE",
	  "read options from FILE (lines of `name = value`)" },
};
const size_t kerno_n_options = sizeof(kerno_options) / sizeof(kerno_options[0]);

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* clang-analyzer 14 misreads the va_list: a false positive. */
	vsnprintf(err, len, fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	return -1;
}

/* Option names compare with '-' and '_' as the same character. */
static const struct kerno_opt *find_opt(const struct kerno_opt *opts, size_t n, const char *name,
					size_t len)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < len && opts[i].name[j]; j++) {
			char a = name[j] == '_' ? '-' : name[j];

			if (a != opts[i].name[j])
				break;
		}
		if (j == len && !opts[i].name[j])
			return &opts[i];
	}
	return NULL;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
			*out = !strcasecmp(s, yes[i]);
			return 0;
		}
	}
	return -1;
}

/* A whole decimal number, for SECS optionally followed by one unit letter. */
static int parse_number(const char *s, bool secs, long long *out)
{
	static const struct {
		char unit;
		long long mult;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', DAY } };
	long long v, mult = 1;
	char *end;
	size_t i;

	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (secs && *end && !end[1]) {
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*end == units[i].unit)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		mult = units[i].mult;
		end++;
	}
	if (*end || __builtin_mul_overflow(v, mult, out))
		return -1;
	return 0;
}

/* A list option: every value given is one more line. */
static int append_value(void *field, const char *value, const char *src, char *err, size_t len)
{
	char **list = field, *joined;

	if (strchr(value, '\n'))
		return fail(err, len, "%s: a value may not hold a newline", src);
	if (asprintf(&joined, "%s%s%s", *list ? *list : "", *list ? "\n" : "", value) < 0)
		return fail(err, len, "%s: out of memory", src);
	free(*list);
	*list = joined;
	return 0;
}

/* Store `value` into the option's field; `src` names where it came from, for errors. */
static int set_value(const struct kerno_opt *o, void *base, const char *value, const char *src,
		     char *err, size_t len)
{
	void *field = (char *)base + o->offset;
	long long v;
	char *copy;

	switch (o->type) {
	case KERNO_OPT_LIST:
		return append_value(field, value, src, err, len);
	case KERNO_OPT_STR:
		copy = strdup(value);
		if (!copy)
			return fail(err, len, "%s: out of memory", src);
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	case KERNO_OPT_BOOL:
		if (parse_bool(value, field))
			return fail(err, len, "%s: '%s' is not a boolean (true or false)", src,
				    value);
		return 0;
	case KERNO_OPT_INT:
	case KERNO_OPT_SECS:
		if (parse_number(value, o->type == KERNO_OPT_SECS, &v))
			return fail(err, len, "%s: '%s' is not a whole number%s", src, value,
				    o->type == KERNO_OPT_SECS ? " of seconds (or with m, h, d)" :
								"");
		if (v < o->min || v > o->max)
			return fail(err, len, "%s: %lld is out of range (%lld to %lld)", src, v,
				    o->min, o->max);
		*(long long *)field = v;
		return 0;
	}
	return fail(err, len, "%s: bad option type", src);
}

static int set_defaults(const struct kerno_opt *opts, size_t n, void *base, char *err, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (opts[i].def && set_value(&opts[i], base, opts[i].def, opts[i].name, err, len))
			return -1;
	return 0;
}

static void env_name(const char *prefix, const char *name, char *out, size_t size)
{
	size_t i = snprintf(out, size, "%s", prefix);

	for (; *name && i + 1 < size; name++, i++)
		out[i] = *name == '-' ? '_' : toupper((unsigned char)*name);
	out[i < size ? i : size - 1] = '\0';
}

static int load_env(const struct kerno_opt *opts, size_t n, void *base, const char *prefix,
		    char *err, size_t len)
{
	char var[128];
	const char *val;
	size_t i;

	for (i = 0; i < n; i++) {
		env_name(prefix, opts[i].name, var, sizeof(var));
		val = getenv(var);
		if (val && *val && set_value(&opts[i], base, val, var, err, len))
			return -1;
	}
	return 0;
}

/* The option an argument names, with its value; -1 when the argument is not an option we know. */
static int split_arg(const struct kerno_opt *opts, size_t n, int argc, char **argv, int *i,
		     const struct kerno_opt **o, const char **value, char *err, size_t len)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
	bool negated = false;

	*o = find_opt(opts, n, name, nlen);
	if (!*o && nlen > 3 && !strncmp(name, "no-", 3)) {
		*o = find_opt(opts, n, name + 3, nlen - 3);
		negated = *o && (*o)->type == KERNO_OPT_BOOL;
		if (*o && !negated)
			return fail(err, len, "--%.*s: --%s is not a boolean", (int)nlen, name,
				    (*o)->name);
	}
	if (!*o)
		return fail(err, len, "unknown option '--%.*s' (try --help)", (int)nlen, name);
	if (negated && eq)
		return fail(err, len, "--%.*s takes no value", (int)nlen, name);
	if (negated)
		*value = "false";
	else if (eq)
		*value = eq + 1;
	else if ((*o)->type == KERNO_OPT_BOOL)
		*value = "true";
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		return fail(err, len, "--%s needs a value", (*o)->name);
	return 0;
}

/*
 * Walk the command line. With `only` set, store that option alone (the
 * config file must be known before the rest is applied) while still
 * checking every argument. Returns 0, 1 for --help, or -1.
 */
static int load_argv(const struct kerno_opt *opts, size_t n, void *base, int argc, char **argv,
		     const struct kerno_opt *only, char *err, size_t len)
{
	const struct kerno_opt *o;
	const char *value = NULL;
	char src[128];
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		if (!strcmp(argv[i], "--") && i + 1 == argc)
			break;
		if (!strcmp(argv[i], "--"))
			return fail(err, len, "unexpected argument '%s' (try --help)", argv[i + 1]);
		if (strncmp(argv[i], "--", 2) || !argv[i][2])
			return fail(err, len, "unexpected argument '%s' (try --help)", argv[i]);
		if (split_arg(opts, n, argc, argv, &i, &o, &value, err, len))
			return -1;
		if (only && o != only)
			continue;
		snprintf(src, sizeof(src), "--%s", o->name);
		if (set_value(o, base, value, src, err, len))
			return -1;
	}
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * The value of a `key = value` line: either "quoted" (kept as is inside the
 * quotes) or bare, cut at a `#` that follows a blank so paths may hold `#`.
 */
static char *clean_value(char *v)
{
	char *close, *rest, *hash;

	v = trim(v);
	if (*v == '"') {
		close = strchr(v + 1, '"');
		rest = close ? trim(close + 1) : NULL;
		if (rest && (!*rest || *rest == '#')) {
			*close = '\0';
			return v + 1;
		}
		return v;
	}
	for (hash = strchr(v, '#'); hash; hash = strchr(hash + 1, '#')) {
		if (hash > v && isspace((unsigned char)hash[-1])) {
			*hash = '\0';
			break;
		}
	}
	return trim(v);
}

static int file_line(const struct kerno_opt *opts, size_t n, void *base, const char *path,
		     int lineno, char *line, char *err, size_t len)
{
	const struct kerno_opt *o;
	char *key, *eq, src[PATH_MAX + 160];

	key = trim(line);
	if (!*key || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq)
		return fail(err, len, "%s:%d: expected `name = value`", path, lineno);
	*eq = '\0';
	key = trim(key);
	o = find_opt(opts, n, key, strlen(key));
	if (!o)
		return fail(err, len, "%s:%d: unknown option '%s'", path, lineno, key);
	snprintf(src, sizeof(src), "%s:%d: %s", path, lineno, o->name);
	return set_value(o, base, clean_value(eq + 1), src, err, len);
}

static int load_file(const struct kerno_opt *opts, size_t n, void *base, const char *path,
		     char *err, size_t len)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, ret = 0;

	if (!f)
		return fail(err, len, "cannot read config file '%s': %s", path, strerror(errno));
	while (!ret && getline(&line, &cap, f) >= 0)
		ret = file_line(opts, n, base, path, ++lineno, line, err, len);
	if (!ret && ferror(f))
		ret = fail(err, len, "cannot read config file '%s': %s", path, strerror(errno));
	free(line);
	fclose(f);
	return ret;
}

int kerno_opts_load(const struct kerno_opt *opts, size_t n, void *base, const char *env_prefix,
		    int argc, char **argv, char *err, size_t errlen)
{
	const struct kerno_opt *cfg_opt = find_opt(opts, n, "config", 6);
	char var[128], *path = NULL;
	const char *name = NULL;
	int ret;

	if (set_defaults(opts, n, base, err, errlen))
		return -1;
	/* The file sits below the environment and the command line, but they name it. */
	ret = load_argv(opts, n, base, argc, argv, cfg_opt, err, errlen);
	if (ret)
		return ret;
	if (cfg_opt) {
		name = *(char **)((char *)base + cfg_opt->offset);
		env_name(env_prefix, cfg_opt->name, var, sizeof(var));
		if (!name)
			name = getenv(var);
	}
	/* A copy: the file may set `config` itself, freeing the string name points to. */
	if (name && *name) {
		path = strdup(name);
		ret = path ? load_file(opts, n, base, path, err, errlen) :
			     fail(err, errlen, "out of memory");
		free(path);
		if (ret)
			return -1;
	}
	if (load_env(opts, n, base, env_prefix, err, errlen))
		return -1;
	return load_argv(opts, n, base, argc, argv, NULL, err, errlen);
}

void kerno_opts_free(const struct kerno_opt *opts, size_t n, void *base)
{
	char **field;
	size_t i;

	for (i = 0; i < n; i++) {
		if (opts[i].type != KERNO_OPT_STR && opts[i].type != KERNO_OPT_LIST)
			continue;
		field = (char **)((char *)base + opts[i].offset);
		free(*field);
		*field = NULL;
	}
}

void kerno_opts_help(FILE *out, const struct kerno_opt *opts, size_t n, const char *env_prefix,
		     const char *usage)
{
	char flag[64], var[128];
	size_t i;

	fprintf(out,
		"Usage: %s\n\nOptions (also %s<NAME> in the environment, `name = value` "
		"in the --config file):\n",
		usage, env_prefix);
	for (i = 0; i < n; i++) {
		const struct kerno_opt *o = &opts[i];

		if (o->type == KERNO_OPT_BOOL)
			snprintf(flag, sizeof(flag), "--[no-]%s", o->name);
		else
			snprintf(flag, sizeof(flag), "--%s %s", o->name, o->arg ? o->arg : "VALUE");
		env_name(env_prefix, o->name, var, sizeof(var));
		fprintf(out, "  %-32s %s\n", flag, o->help);
		fprintf(out, "  %-32s %s", "", var);
		if (o->def)
			fprintf(out, ", default %s%s", o->def,
				o->type == KERNO_OPT_SECS ? "s" : "");
		fputc('\n', out);
	}
	fprintf(out, "  %-32s %s\n", "-h, --help", "show this help and exit");
}

int kerno_config_load(struct kerno_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	char host[HOST_NAME_MAX + 1];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = kerno_opts_load(kerno_options, kerno_n_options, cfg, "KERNO_", argc, argv, err,
			      errlen);
	if (ret || (cfg->host_name && *cfg->host_name))
		return ret;
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	free(cfg->host_name);
	cfg->host_name = strdup(host);
	return cfg->host_name ? 0 : fail(err, errlen, "out of memory");
}

void kerno_config_free(struct kerno_config *cfg)
{
	kerno_opts_free(kerno_options, kerno_n_options, cfg);
}

void kerno_config_help(FILE *out, const char *usage)
{
	kerno_opts_help(out, kerno_options, kerno_n_options, "KERNO_", usage);
}
