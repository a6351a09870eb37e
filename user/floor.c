// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "floor.h"
#include "floor.skel.h"
#include "preflight.h"

static volatile sig_atomic_t floor_stop;

static void on_signal(int sig)
{
	floor_stop = 1;
}

int floor_run(const struct kerno_config *cfg)
{
	struct floor_bpf *skel;
	char err[512];
	long long left = cfg->duration;

	if (preflight_capture(PREFLIGHT_BPF, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	skel = floor_bpf__open_and_load();
	if (!skel || floor_bpf__attach(skel)) {
		fprintf(stderr, "kerno: cannot load or attach the floor programs\n");
		floor_bpf__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "kerno: empty programs attached at the capture hooks\n");
	while (!floor_stop && (!cfg->duration || left-- > 0))
		sleep(1);
	floor_bpf__destroy(skel);
	return 0;
}
