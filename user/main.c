// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* build/kerno: one binary, one subcommand per role. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "floor.h"
#include "nanobe.h"
#include "preon.h"
#include "top.h"

struct command {
	const char *name;
	int (*run)(const struct kerno_config *cfg);
	const char *usage;
	const char *summary;
};

static const struct command commands[] = {
	{ "run", agent_run, "kerno run [OPTIONS]",
	  "capture on this host and write metrics under DATA_DIR (no Kubernetes needed)" },
	{ "preon", preon_run, "kerno preon --nanobe HOST:PORT --token-file FILE [OPTIONS]",
	  "node agent in a cluster: capture here, send to Nanobe over HTTP/2 + TLS, spool if away" },
	{ "nanobe", nanobe_run,
	  "kerno nanobe --tls-cert FILE --tls-key FILE --token-file FILE [OPTIONS]",
	  "cluster aggregator: take Preons' and OTLP/HTTP metrics, merge, write the uplink" },
	{ "top", top_run, "kerno top [OPTIONS]",
	  "live table of a running agent's endpoints: rate, error %, p50, p99" },
	{ "hooks", agent_hooks, "kerno hooks [OPTIONS]",
	  "list the capture hook flavours this kernel can attach; `auto` takes the first" },
	{ "verifier-report", agent_verifier_report, "kerno verifier-report [OPTIONS]",
	  "load every hook flavour here and print the verifier's work per program" },
	{ "bench-floor", floor_run, "kerno bench-floor [OPTIONS]",
	  "attach empty programs at the capture hooks (for make bench)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: kerno COMMAND [OPTIONS]\n\nKerno %s: eBPF observability for "
		"Kubernetes.\n\nCommands:\n",
		KERNO_VERSION);
	for (i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"  %-16s %s\n\n`kerno COMMAND --help` lists the options; each is also read "
		"from KERNO_<NAME> and from --config FILE.\n",
		"version", "print the version");
}

static int run_command(const struct command *cmd, int argc, char **argv)
{
	struct kerno_config cfg;
	char err[512];
	int ret;

	ret = kerno_config_load(&cfg, argc, argv, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "kerno: %s\n", err);
		ret = 2;
	} else if (ret == 1) {
		printf("%s\n\n", cmd->summary);
		kerno_config_help(stdout, cmd->usage);
		ret = 0;
	} else {
		ret = cmd->run(&cfg);
	}
	kerno_config_free(&cfg);
	return ret;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("kerno %s\n", KERNO_VERSION);
		return 0;
	}
	for (i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return run_command(&commands[i], argc - 2, argv + 2);
	fprintf(stderr, "kerno: unknown command '%s'; `kerno --help` lists them\n", argv[1]);
	return 2;
}
