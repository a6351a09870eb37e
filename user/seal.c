// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* AES-256-GCM sealing of data at rest, in chunks that detect truncation: see seal.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/aead.h>
#include <openssl/base64.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include "durable.h"
#include "seal.h"

static const char seal_magic[8] = { 'K', 'S', 'E', 'A', 'L', '0', '0', '1' };

#define NONCE_BYTES 12

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Raw, hex or base64 key text into 32 bytes. */
static int parse_key(const uint8_t *buf, size_t n, struct seal_key *key)
{
	size_t out = 0, i;

	if (n == SEAL_KEY_BYTES) {
		memcpy(key->k, buf, n);
		return 0;
	}
	while (n && isspace(buf[n - 1]))
		n--;
	if (n == 2 * SEAL_KEY_BYTES) {
		for (i = 0; i < SEAL_KEY_BYTES; i++) {
			int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

			if (hi < 0 || lo < 0)
				break;
			key->k[i] = (uint8_t)(hi << 4 | lo);
		}
		if (i == SEAL_KEY_BYTES)
			return 0;
	}
	if (n == 44) {
		uint8_t tmp[48];

		if (EVP_DecodeBase64(tmp, &out, sizeof(tmp), buf, n) && out == SEAL_KEY_BYTES) {
			memcpy(key->k, tmp, SEAL_KEY_BYTES);
			OPENSSL_cleanse(tmp, sizeof(tmp));
			return 0;
		}
	}
	return -1;
}

/* A new random key, written with mode 0600 and made durable. */
static int create_key(const char *path, struct seal_key *key, char *err, size_t errlen)
{
	int fd, r = 0;

	if (!RAND_bytes(key->k, sizeof(key->k))) {
		snprintf(err, errlen, "key file %s: no random bytes", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "key file %s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, key->k, sizeof(key->k)) != (ssize_t)sizeof(key->k) || fsync(fd))
		r = -1;
	close(fd);
	if (r || durable_sync_dir_of(path)) {
		snprintf(err, errlen, "key file %s: cannot write: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int seal_key_load(const char *path, struct seal_key *key, char *err, size_t errlen)
{
	uint8_t buf[128];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return create_key(path, key, err, errlen);
	if (fd < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || parse_key(buf, (size_t)n, key)) {
		snprintf(err, errlen,
			 "key file %s: expected 32 bytes, raw, as 64 hex digits or in base64",
			 path);
		OPENSSL_cleanse(buf, sizeof(buf));
		return -1;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static size_t n_chunks(size_t len)
{
	/* Full chunks, then a final one of 0..SEAL_CHUNK_BYTES-1 bytes. */
	return len / SEAL_CHUNK_BYTES + 1;
}

size_t seal_size(size_t len)
{
	return SEAL_HEADER_BYTES + len + n_chunks(len) * SEAL_TAG_BYTES;
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Nonce and additional data of chunk i. */
static void chunk_params(const uint8_t *header, uint64_t i, bool final, uint8_t *nonce, uint8_t *ad)
{
	uint8_t idx[8];
	int k;

	memcpy(nonce, header + 12, NONCE_BYTES);
	put_be(idx, i, 8);
	for (k = 0; k < 8; k++)
		nonce[4 + k] ^= idx[k];
	memcpy(ad, header, SEAL_HEADER_BYTES);
	memcpy(ad + SEAL_HEADER_BYTES, idx, 8);
	ad[SEAL_HEADER_BYTES + 8] = final;
}

#define AD_BYTES (SEAL_HEADER_BYTES + 9)

int seal_buf(const struct seal_key *key, const void *in, size_t len, uint8_t *out)
{
	uint8_t nonce[NONCE_BYTES], ad[AD_BYTES];
	const uint8_t *p = in;
	size_t chunks = n_chunks(len), i, clen, olen, off = SEAL_HEADER_BYTES;
	EVP_AEAD_CTX ctx;
	int r = 0;

	memcpy(out, seal_magic, sizeof(seal_magic));
	put_be(out + 8, SEAL_CHUNK_BYTES, 4);
	if (!RAND_bytes(out + 12, NONCE_BYTES))
		return -1;
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_256_gcm(), key->k, SEAL_KEY_BYTES, SEAL_TAG_BYTES,
			       NULL))
		return -1;
	for (i = 0; i < chunks; i++) {
		clen = i + 1 < chunks ? SEAL_CHUNK_BYTES : len - i * SEAL_CHUNK_BYTES;
		chunk_params(out, i, i + 1 == chunks, nonce, ad);
		if (!EVP_AEAD_CTX_seal(&ctx, out + off, &olen, clen + SEAL_TAG_BYTES, nonce,
				       NONCE_BYTES, p, clen, ad, AD_BYTES)) {
			r = -1;
			break;
		}
		p += clen;
		off += olen;
	}
	EVP_AEAD_CTX_cleanup(&ctx);
	return r;
}

int seal_open(const struct seal_key *key, const uint8_t *in, size_t len, uint8_t *out,
	      size_t *outlen)
{
	uint8_t nonce[NONCE_BYTES], ad[AD_BYTES];
	const size_t full = SEAL_CHUNK_BYTES + SEAL_TAG_BYTES;
	size_t off = SEAL_HEADER_BYTES, total = 0, clen, olen;
	EVP_AEAD_CTX ctx;
	bool final = false;
	uint64_t i;
	int r = 0;

	if (len < SEAL_HEADER_BYTES + SEAL_TAG_BYTES ||
	    memcmp(in, seal_magic, sizeof(seal_magic)) || in[8] || in[9] != 1 || in[10] || in[11])
		return len < SEAL_HEADER_BYTES ? -EBADMSG : -EINVAL;
	if (!EVP_AEAD_CTX_init(&ctx, EVP_aead_aes_256_gcm(), key->k, SEAL_KEY_BYTES, SEAL_TAG_BYTES,
			       NULL))
		return -ENOMEM;
	for (i = 0; !final; i++) {
		clen = len - off;
		if (clen < SEAL_TAG_BYTES) {
			r = -EBADMSG;
			break;
		}
		/* Only the last piece of the file is the final chunk. */
		final = clen <= full;
		if (clen > full)
			clen = full;
		chunk_params(in, i, final, nonce, ad);
		if (!EVP_AEAD_CTX_open(&ctx, out + total, &olen, clen, nonce, NONCE_BYTES, in + off,
				       clen, ad, AD_BYTES)) {
			r = -EBADMSG;
			break;
		}
		off += clen;
		total += olen;
	}
	EVP_AEAD_CTX_cleanup(&ctx);
	*outlen = total;
	return r;
}

int seal_write_file(const struct seal_key *key, const char *path, const void *data, size_t len)
{
	size_t slen = seal_size(len);
	uint8_t *buf = malloc(slen);
	int r;

	if (!buf)
		return -ENOMEM;
	r = seal_buf(key, data, len, buf) ? -EIO : durable_replace(path, buf, slen);
	free(buf);
	return r;
}

int seal_read_file(const struct seal_key *key, const char *path, uint8_t **data, size_t *len)
{
	uint8_t *in = NULL, *out = NULL;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	in = malloc(st.st_size ? (size_t)st.st_size : 1);
	out = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!in || !out) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, in + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	r = seal_open(key, in, got, out, len);
	if (!r) {
		*data = out;
		out = NULL;
	}
out:
	close(fd);
	free(in);
	free(out);
	return r;
}
