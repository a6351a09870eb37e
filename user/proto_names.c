// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Names of the protocol parsers' codes: see proto_names.h. */
#include <stdio.h>
#include <string.h>

#include "proto_names.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *kerno_db_system(unsigned int proto)
{
	switch (proto) {
	case KERNO_P_REDIS:
		return "redis";
	case KERNO_P_PGSQL:
		return "postgresql";
	case KERNO_P_MYSQL:
		return "mysql";
	default:
		return NULL;
	}
}

/* clang-format off */
static const char *const sql_ops[] = {
	[KERNO_SQL_OTHER] = NULL,
	[KERNO_SQL_SELECT] = "SELECT",
	[KERNO_SQL_INSERT] = "INSERT",
	[KERNO_SQL_UPDATE] = "UPDATE",
	[KERNO_SQL_DELETE] = "DELETE",
	[KERNO_SQL_BEGIN] = "BEGIN",
	[KERNO_SQL_COMMIT] = "COMMIT",
	[KERNO_SQL_ROLLBACK] = "ROLLBACK",
	[KERNO_SQL_CREATE] = "CREATE",
	[KERNO_SQL_DROP] = "DROP",
	[KERNO_SQL_ALTER] = "ALTER",
	[KERNO_SQL_SET] = "SET",
	[KERNO_SQL_SHOW] = "SHOW",
	[KERNO_SQL_WITH] = "WITH",
	[KERNO_SQL_COPY] = "COPY",
	[KERNO_SQL_TRUNCATE] = "TRUNCATE",
	[KERNO_SQL_VACUUM] = "VACUUM",
	[KERNO_SQL_CALL] = "CALL",
	[KERNO_SQL_EXECUTE] = "EXECUTE",
	[KERNO_SQL_PREPARE] = "PREPARE",
	[KERNO_SQL_PING] = "PING",
	[KERNO_SQL_INIT_DB] = "USE",
};

static const char *const redis_errors[] = {
	[KERNO_REDIS_OK] = NULL,
	[KERNO_REDIS_ERR_OTHER] = "_OTHER",
	[KERNO_REDIS_ERR] = "ERR",
	[KERNO_REDIS_WRONGTYPE] = "WRONGTYPE",
	[KERNO_REDIS_MOVED] = "MOVED",
	[KERNO_REDIS_ASK] = "ASK",
	[KERNO_REDIS_NOAUTH] = "NOAUTH",
	[KERNO_REDIS_NOSCRIPT] = "NOSCRIPT",
	[KERNO_REDIS_BUSY] = "BUSY",
	[KERNO_REDIS_LOADING] = "LOADING",
	[KERNO_REDIS_READONLY] = "READONLY",
	[KERNO_REDIS_EXECABORT] = "EXECABORT",
	[KERNO_REDIS_NOPERM] = "NOPERM",
	[KERNO_REDIS_OOM] = "OOM",
};
/* clang-format on */
_Static_assert(ARRAY_LEN(sql_ops) == KERNO_SQL__COUNT, "an SQL operation has no name");
_Static_assert(ARRAY_LEN(redis_errors) == KERNO_REDIS_ERR__COUNT, "a Redis error has no name");

const char *kerno_sql_op_name(unsigned int op)
{
	return op < ARRAY_LEN(sql_ops) ? sql_ops[op] : NULL;
}

const char *kerno_redis_error_name(unsigned int err)
{
	return err < ARRAY_LEN(redis_errors) ? redis_errors[err] : "_OTHER";
}

const char *kerno_redis_command(const char *path, size_t len, char *buf, size_t size)
{
	size_t i;

	len = strnlen(path, len);
	if (!len)
		return NULL;
	if (len >= size)
		return "_OTHER";
	for (i = 0; i < len; i++) {
		char ch = path[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
		      ch == '-' || ch == '.' || ch == '|'))
			return "_OTHER";
	}
	memcpy(buf, path, len);
	buf[len] = 0;
	return buf;
}

bool kerno_sqlstate(__u32 code, char *buf)
{
	int i;
	unsigned int ch;

	for (i = KERNO_SQLSTATE_LEN - 1; i >= 0; i--) {
		ch = code & 63;
		code >>= 6;
		if (ch < 1 || ch > 'Z' - '0' + 1 || (ch > 10 && ch < 'A' - '0' + 1))
			return false;
		buf[i] = (char)('0' + ch - 1);
	}
	buf[KERNO_SQLSTATE_LEN] = '\0';
	return code == 0;
}

const char *kerno_db_error(unsigned int proto, unsigned int status, __u32 code, char *buf,
			   size_t size)
{
	if (!status)
		return NULL;
	if (proto == KERNO_P_REDIS)
		return kerno_redis_error_name(status);
	if (proto == KERNO_P_PGSQL)
		return size > KERNO_SQLSTATE_LEN && kerno_sqlstate(code, buf) ? buf : "_OTHER";
	snprintf(buf, size, "%u", status);
	return buf;
}

const char *kerno_dns_type_name(unsigned int qtype, char *buf, size_t size)
{
	static const struct {
		unsigned int type;
		const char *name;
	} types[] = {
		{ 1, "A" },	{ 2, "NS" },	 { 5, "CNAME" }, { 6, "SOA" },
		{ 12, "PTR" },	{ 15, "MX" },	 { 16, "TXT" },	 { 28, "AAAA" },
		{ 33, "SRV" },	{ 35, "NAPTR" }, { 43, "DS" },	 { 48, "DNSKEY" },
		{ 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" }, { 257, "CAA" },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(types); i++)
		if (types[i].type == qtype)
			return types[i].name;
	snprintf(buf, size, "%u", qtype);
	return buf;
}

const char *kerno_dns_rcode_name(unsigned int rcode, char *buf, size_t size)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP",	"REFUSED", "YXDOMAIN", "YXRRSET",
					     "NXRRSET", "NOTAUTH", "NOTZONE" };

	if (rcode < ARRAY_LEN(names))
		return names[rcode];
	snprintf(buf, size, "%u", rcode);
	return buf;
}

/* clang-format off */
static const char *const grpc_codes[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};
/* clang-format on */

const char *kerno_grpc_status_name(unsigned int code, char *buf, size_t size)
{
	if (code < ARRAY_LEN(grpc_codes))
		return grpc_codes[code];
	snprintf(buf, size, "%u", code);
	return buf;
}

const char *kerno_grpc_error_type(unsigned int status, bool reset, char *buf, size_t size)
{
	if (status == KERNO_GRPC_NO_STATUS)
		return reset ? "stream_reset" : "_OTHER";
	return status ? kerno_grpc_status_name(status, buf, size) : NULL;
}
