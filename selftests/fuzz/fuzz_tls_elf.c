// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for user/tls_elf.c: the agent opens the executables and
 * libraries of every process on the node, any of which may be malformed or
 * hostile. Whatever the bytes, tls_elf_inspect() returns, and what it
 * returns is consistent: probe points only for a library it recognised,
 * never more than TLS_ELF_MAX_POINTS.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tls_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_elf_info info;
	char path[64];
	int fd = memfd_create("fuzz_tls_elf", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!tls_elf_inspect(path, &info)) {
		if (info.n_points > TLS_ELF_MAX_POINTS)
			abort();
		if (info.lib == TLS_LIB_NONE && info.n_points)
			abort();
	}
	close(fd);
	return 0;
}
