/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Sealing data at rest: AES-256-GCM, authenticated, truncation detected.
 * Used by the S3 spool and the WebSocket uplink's disk queue.
 *
 * Key: 32 bytes in a file, given raw (32 bytes), as 64 hex digits or as
 * base64 (a Kubernetes Secret mounted as a file works in any of the three);
 * trailing white space is ignored. When the file does not exist it is
 * created with 32 random bytes, mode 0600, and fsync'ed (with its
 * directory) before use.
 *
 * Sealed format (all integers big-endian):
 *
 *   header  "KSEAL001" | u32 chunk size (65536) | 12-byte random nonce base
 *   chunks  ciphertext of chunk_size plaintext bytes + 16-byte tag, ... ,
 *           then one final chunk of 0..chunk_size bytes + tag (always present)
 *
 * Chunk i is sealed with nonce = base XOR i (in the last 8 bytes) and
 * additional data = header | u64 i | u8 final. A file cut anywhere,
 * including exactly between two chunks, fails to open: the last chunk left
 * was not sealed as final. Chunks reordered or swapped between files fail
 * too (the index and the header are authenticated).
 */
#ifndef KERNO_SEAL_H
#define KERNO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_BYTES 32
#define SEAL_HEADER_BYTES 24
#define SEAL_TAG_BYTES 16
#define SEAL_CHUNK_BYTES 65536

struct seal_key {
	uint8_t k[SEAL_KEY_BYTES];
};

/*
 * Load the key from path, creating it (mode 0600) when absent.
 * 0, or -1 with a one-line message in err.
 */
int seal_key_load(const char *path, struct seal_key *key, char *err, size_t errlen);

/* The sealed size of len plaintext bytes. */
size_t seal_size(size_t len);

/* Seal len bytes of in into out, which holds seal_size(len) bytes. 0 or -1. */
int seal_buf(const struct seal_key *key, const void *in, size_t len, uint8_t *out);

/*
 * Open a sealed buffer into out (which holds at least len bytes; the
 * plaintext is shorter). 0 with *outlen set, or -EBADMSG when the data is
 * corrupt, truncated, or sealed with another key; -EINVAL for a bad header.
 */
int seal_open(const struct seal_key *key, const uint8_t *in, size_t len, uint8_t *out,
	      size_t *outlen);

/*
 * Seal data into path atomically: written to path.tmp, fsync'ed, renamed
 * over path, directory fsync'ed. After 0 the file survives a power loss.
 * Negative errno on failure (nothing left behind).
 */
int seal_write_file(const struct seal_key *key, const char *path, const void *data, size_t len);

/*
 * Read and open a sealed file: 0 with a malloc'ed plaintext in *data (free
 * it) and its size in *len; -EBADMSG / -EINVAL as seal_open, or -errno.
 */
int seal_read_file(const struct seal_key *key, const char *path, uint8_t **data, size_t *len);

#endif /* KERNO_SEAL_H */
