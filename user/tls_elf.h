/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which TLS library an ELF file holds, and where to probe it: OpenSSL or
 * BoringSSL (shared, or linked into an executable) by their exported or
 * local symbols; Go crypto/tls by its function symbols, with the offset of
 * every RET instruction of the functions probed at their returns.
 */
#ifndef KERNO_TLS_ELF_H
#define KERNO_TLS_ELF_H

#include <stddef.h>
#include <stdint.h>

enum tls_lib {
	TLS_LIB_NONE = 0,
	TLS_LIB_OPENSSL,
	TLS_LIB_BORINGSSL,
	TLS_LIB_GO,
};

/* What a probe does (one BPF program each, see kern/tls.bpf.c). */
enum tls_hook {
	TLS_HOOK_SSL_READ,
	TLS_HOOK_SSL_WRITE,
	TLS_HOOK_SSL_READ_EX,
	TLS_HOOK_SSL_WRITE_EX,
	TLS_HOOK_SSL_HANDSHAKE,
	TLS_HOOK_SSL_RET, /* uretprobe on each of the above */
	TLS_HOOK_GO_READ,
	TLS_HOOK_GO_WRITE,
	TLS_HOOK_GO_HANDSHAKE,
	TLS_HOOK_GO_RET, /* at one RET instruction of Go's Read */
	TLS_HOOK__COUNT,
};

struct tls_probe_point {
	enum tls_hook hook;
	uint64_t offset; /* file offset of the instruction */
};

/* At most: 5 SSL entries and returns; Go's RETs, bounded per function. */
#define TLS_ELF_MAX_POINTS 64

struct tls_elf_info {
	enum tls_lib lib;
	int go_minor; /* Go 1.x of a Go binary, else 0 */
	size_t n_points;
	struct tls_probe_point points[TLS_ELF_MAX_POINTS];
};

/*
 * Look at the ELF file at path. Returns 0 and fills info (lib is
 * TLS_LIB_NONE for a file with nothing to probe), or a negative errno when
 * the file cannot be read or is not ELF. A Go binary older than 1.17 or
 * without symbols is TLS_LIB_NONE.
 */
int tls_elf_inspect(const char *path, struct tls_elf_info *info);

/* "openssl", "boringssl", "go", "none". */
const char *tls_lib_name(enum tls_lib lib);

#endif /* KERNO_TLS_ELF_H */
