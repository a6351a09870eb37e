// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "capture_load.h"
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
	int hook;

	if (preflight_capture(PREFLIGHT_BPF, err, sizeof(err))) {
		fprintf(stderr, "kerno: %s\n", err);
		return 2;
	}
	hook = -1;
	if (!capture_disable_hooks(cfg->disable_hooks, err, sizeof(err)))
		hook = capture_pick_hook(cfg->hook, err, sizeof(err));
	if (hook < 0 || hook == CAPTURE_HOOK_RAW_TP) {
		fprintf(stderr, "kerno: %s\n", hook < 0 ? err : "the floor has no raw_tp flavour");
		return 2;
	}
	skel = floor_bpf__open();
	if (!skel)
		return 1;
	/* Exactly the programs `kerno run --hook` would attach, empty. */
	bpf_program__set_autoload(skel->progs.floor_sock_send, hook == CAPTURE_HOOK_SOCK);
	bpf_program__set_autoload(skel->progs.floor_sock_recv, hook == CAPTURE_HOOK_SOCK);
	bpf_program__set_autoload(skel->progs.floor_sys_exit, hook == CAPTURE_HOOK_SYS_EXIT);
	bpf_program__set_autoload(skel->progs.floor_tcp_sendmsg, hook == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(skel->progs.floor_tcp_recvmsg, hook == CAPTURE_HOOK_FEXIT);
	bpf_program__set_autoload(skel->progs.floor_tcp_sendpage,
				  hook == CAPTURE_HOOK_FEXIT &&
					  capture_have_function("tcp_sendpage"));
	if (floor_bpf__load(skel) || floor_bpf__attach(skel)) {
		fprintf(stderr, "kerno: cannot load or attach the floor programs\n");
		floor_bpf__destroy(skel);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "kerno: empty programs attached at the %s hooks\n",
		capture_hook_names[hook]);
	while (!floor_stop && (!cfg->duration || left-- > 0))
		sleep(1);
	floor_bpf__destroy(skel);
	return 0;
}
