/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Options, declared once as data (a table of struct kerno_opt) and read
 * from four sources, later ones winning:
 *
 *   built-in defaults < config file < environment < command line
 *
 * The config file is `--config FILE` (or KERNO_CONFIG): one `key = value` a
 * line, `#` comments (whole lines, or after a blank), keys with dashes or
 * underscores, values optionally in double quotes. The environment is
 * KERNO_<NAME> (upper case, dashes as underscores); an empty variable counts
 * as unset. The command line is `--name value` or `--name=value`, booleans
 * `--name` or `--no-name`; `--` ends the options.
 *
 * To add an option: a field in struct kerno_config and a row in the table
 * in config.c. Help text, environment and file support follow.
 */
#ifndef KERNO_CONFIG_H
#define KERNO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum kerno_opt_type {
	KERNO_OPT_STR, /* char *, malloc'ed */
	KERNO_OPT_INT, /* long long, within [min, max] */
	KERNO_OPT_BOOL, /* bool: true/false, yes/no, on/off, 1/0 */
	KERNO_OPT_SECS, /* long long seconds; the value may end in s, m, h or d */
	KERNO_OPT_LIST, /* char *, malloc'ed: every value given, one a line (repeatable) */
};

struct kerno_opt {
	const char *name; /* "max-conns": --max-conns, KERNO_MAX_CONNS, max_conns = 1 */
	enum kerno_opt_type type;
	const char *def; /* default, as text, parsed like any source; NULL: none */
	long long min, max; /* range of INT and SECS options */
	size_t offset; /* of the field in the options struct */
	const char *arg; /* placeholder for the help text: "DIR", "SECS" */
	const char *help;
};

/* The result of parsing, for every subcommand (each uses what it needs). */
struct kerno_config {
	char *data_dir;
	long long interval;
	long long duration;
	long long max_conns;
	long long max_series;
	long long max_series_per_process;
	long long max_processes;
	long long max_header_bytes;
	bool errors;
	long long max_error_groups;
	char *host_name;
	char *pin_dir;
	char *proc_root;
	char *ignore_process;
	bool tls_capture; /* uprobes on the TLS libraries (user/tls_probe.c) */
	char *config;
	char *cloud_url;
	char *cloud_token_file;
	char *cloud_ca_file;
	char *cloud_key_file;
	long long cloud_queue_bytes;
	long long cloud_ping;
	long long cloud_heartbeat;
	long long cloud_close_timeout;
	long long cloud_flush_timeout;
	bool cloud_deflate;
	long long refresh;
	long long iterations;
	char *hook;
	char *disable_hooks;
	char *logs; /* --logs GLOB, one a line */
	char *log_pods_root;
	char *log_docker_root;
	bool log_keep_all;
	long long log_first;
	long long log_sample_every;
	long long log_rate_limit;
	long long log_max_line_bytes;
	long long log_max_files;
	long long log_max_templates;
	long long log_rotate_wait;
	long long log_scan_interval;
	char *object_prefix;
	long long object_max_bytes;
	long long object_max_age;
	long long object_max_pending_bytes;
	bool verbose;
	/* Spans (kern/span.bpf.h, user/spans.c) */
	bool spans;
	long long span_baseline;
	long long span_slow_ms;
	long long span_rate_cap;
	long long span_payload_bytes;
	long long span_payload_conns;
	long long span_ringbuf_bytes;
	long long h2_ringbuf_bytes;
	/* Object storage in S3 (objstore_s3.c); no bucket: the local directory. */
	char *s3_bucket;
	char *s3_region;
	char *s3_endpoint;
	char *s3_prefix;
	char *s3_ca_file;
	char *s3_sse;
	char *s3_kms_key_id;
	long long s3_part_size;
	long long s3_connections;
	char *spool_dir;
	long long spool_max_bytes;
	char *spool_key_file;
	/* kerno preon and kerno nanobe (docs/cluster.md) */
	char *nanobe; /* preon: HOST:PORT of Nanobe */
	char *ca_file;
	char *token_file;
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *cgroup;
	long long preon_spool_max_bytes;
	char *preon_spool_key;
	long long max_body;
	long long max_merged_series;
	char *kubeconfig;
	char *kube_api;
	char *merge_by;
};

extern const struct kerno_opt kerno_options[];
extern const size_t kerno_n_options;

/*
 * Fill cfg (which need not be initialised) from all four sources. argv
 * holds only the options: argv[0] is the first of them, not the program or
 * subcommand name. An empty host-name becomes gethostname().
 * Returns 0; 1 when --help or -h was given (print kerno_config_help, exit
 * 0); -1 with a one-line message in err (print "kerno: <err>", exit 2).
 * cfg must be passed to kerno_config_free() in every case.
 */
int kerno_config_load(struct kerno_config *cfg, int argc, char **argv, char *err, size_t errlen);
void kerno_config_free(struct kerno_config *cfg);

/* "Usage: <usage>" followed by every option with its default and source names. */
void kerno_config_help(FILE *out, const char *usage);

/*
 * The engine behind them, for any table `opts` of n options describing the
 * struct at base, which must start zeroed; env_prefix is e.g. "KERNO_". The option named "config",
 * if the table has one, names the config file.
 */
int kerno_opts_load(const struct kerno_opt *opts, size_t n, void *base, const char *env_prefix,
		    int argc, char **argv, char *err, size_t errlen);
void kerno_opts_free(const struct kerno_opt *opts, size_t n, void *base);
void kerno_opts_help(FILE *out, const struct kerno_opt *opts, size_t n, const char *env_prefix,
		     const char *usage);

#endif /* KERNO_CONFIG_H */
