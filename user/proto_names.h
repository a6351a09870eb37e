/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Names of what the protocol parsers put in a series key (kern/proto.h), as
 * the OpenTelemetry semantic conventions spell them: db.system.name,
 * db.operation.name, db.response.status_code, dns.question.type, and the
 * DNS rcode as error.type.
 */
#ifndef KERNO_PROTO_NAMES_H
#define KERNO_PROTO_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "kerno_types.h"
#include "../kern/capture.h"

/* db.system.name of a database protocol, NULL for the others. */
const char *kerno_db_system(unsigned int proto);

/* SQL operation ("SELECT"); NULL for KERNO_SQL_OTHER and unknown values. */
const char *kerno_sql_op_name(unsigned int op);

/* Redis error prefix ("WRONGTYPE"); NULL for no error. */
const char *kerno_redis_error_name(unsigned int err);

/*
 * A Redis command name as the kernel copied it (path, upper-cased, up to len
 * bytes), into buf when it is a word (letters, digits, _ - . |) that fits;
 * "_OTHER" when it is not (a client may send anything where a command
 * belongs); NULL when empty.
 */
const char *kerno_redis_command(const char *path, size_t len, char *buf, size_t size);

/* A packed SQLSTATE (kern/proto.h) into buf (6 bytes); false if code is not one. */
bool kerno_sqlstate(__u32 code, char *buf);

/*
 * A database response's db.response.status_code (and error.type), from a
 * series' or span's status and code: the Redis error prefix, the PostgreSQL
 * SQLSTATE ("_OTHER" when the kernel did not see it), the MySQL error number,
 * in buf (12 bytes) where it is not a constant; NULL for no error.
 */
const char *kerno_db_error(unsigned int proto, unsigned int status, __u32 code, char *buf,
			   size_t size);

/* DNS query type name ("AAAA"), or its number in buf (8 bytes). */
const char *kerno_dns_type_name(unsigned int qtype, char *buf, size_t size);

/* DNS rcode name ("NXDOMAIN"), or its number in buf. */
const char *kerno_dns_rcode_name(unsigned int rcode, char *buf, size_t size);

/* grpc-status of a gRPC series that ended without one (reset, or no trailers). */
#define KERNO_GRPC_NO_STATUS 0xffff

/* The canonical name of a gRPC status code ("NOT_FOUND"); a number past them in buf. */
const char *kerno_grpc_status_name(unsigned int code, char *buf, size_t size);

/*
 * error.type of a gRPC call with this status (KERNO_GRPC_NO_STATUS: none;
 * reset: the stream was reset): the code's name, "stream_reset" or
 * "_OTHER" without a status, NULL for OK.
 */
const char *kerno_grpc_error_type(unsigned int status, bool reset, char *buf, size_t size);

#endif /* KERNO_PROTO_NAMES_H */
