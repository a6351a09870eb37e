// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Stable names of the kernel's enums: see names.h. */
#include <stddef.h>

#include "names.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Sized by the highest designated index, so forgetting the last counter
 * trips the assertion below; a hole in the middle is caught by test_otlp.
 */
static const char *const counter_names[] = {
	[KERNO_DROP_CONN_TABLE_FULL] = "conn_table_full",
	[KERNO_DROP_SERIES_TABLE_FULL] = "series_table_full",
	[KERNO_DROP_UNPARSED] = "unparsed",
	[KERNO_DROP_BAD_MESSAGE] = "bad_message",
	[KERNO_DROP_HEADER_TOO_LONG] = "header_too_long",
	[KERNO_DROP_FIFO_FULL] = "fifo_full",
	[KERNO_DROP_UNMATCHED_RESPONSE] = "unmatched_response",
	[KERNO_DROP_CLOSED_MID_MESSAGE] = "closed_mid_message",
	[KERNO_DROP_NO_RESPONSE] = "no_response",
	[KERNO_DROP_SCAN_LIMIT] = "scan_limit",
	[KERNO_DROP_READ_FAULT] = "read_fault",
	[KERNO_DROP_OPAQUE_BYTES] = "opaque_bytes",
	[KERNO_DROP_PROG_MISSES] = "prog_misses",
	[KERNO_DROP_SPAN_RINGBUF_FULL] = "span_ringbuf_full",
	[KERNO_DROP_SPAN_LOST] = "span_lost",
	[KERNO_DROP_TLS_NO_CONN] = "tls_no_conn",
	[KERNO_DROP_TLS_UNSEEN] = "tls_unseen",
	[KERNO_DROP_EXEC_LOST] = "exec_lost",
	[KERNO_DROP_H2_STREAMS_FULL] = "h2_streams_full",
	[KERNO_DROP_H2_EVENTS_LOST] = "h2_events_lost",
	[KERNO_DROP_H2_BLOCK_TRUNCATED] = "h2_block_truncated",
	[KERNO_DROP_TAIL_CALL] = "tail_call",
	[KERNO_DROP_H2_NO_HEADERS] = "h2_no_headers",
	[KERNO_DROP_PROC_TABLE_FULL] = "proc_table_full",
	[KERNO_EV_ACCEPTED] = "accepted",
	[KERNO_EV_CONNECTED] = "connected",
	[KERNO_EV_CONNECT_FAILED] = "connect_failed",
	[KERNO_EV_CLOSED] = "closed",
	[KERNO_EV_ADOPTED] = "adopted",
	[KERNO_EV_REQUESTS] = "requests",
	[KERNO_EV_IGNORED] = "ignored",
	[KERNO_EV_SPANS_SAMPLED] = "spans_sampled",
	[KERNO_EV_SPANS_CAPPED] = "spans_capped",
};
_Static_assert(ARRAY_LEN(counter_names) == KERNO_COUNTER__COUNT, "a counter has no name");

/* One a line reads better than the columns clang-format would pack. */
/* clang-format off */
static const char *const method_names[] = {
	[KERNO_M_OTHER] = "_OTHER",
	[KERNO_M_GET] = "GET",
	[KERNO_M_HEAD] = "HEAD",
	[KERNO_M_POST] = "POST",
	[KERNO_M_PUT] = "PUT",
	[KERNO_M_DELETE] = "DELETE",
	[KERNO_M_PATCH] = "PATCH",
	[KERNO_M_OPTIONS] = "OPTIONS",
	[KERNO_M_CONNECT] = "CONNECT",
	[KERNO_M_TRACE] = "TRACE",
};
/* clang-format on */
_Static_assert(ARRAY_LEN(method_names) == KERNO_M__COUNT, "a method has no name");

const char *kerno_counter_name(unsigned int c)
{
	return c < ARRAY_LEN(counter_names) ? counter_names[c] : NULL;
}

bool kerno_counter_is_drop(unsigned int c)
{
	return c < KERNO_DROP__COUNT;
}

const char *kerno_method_name(unsigned int m)
{
	return m < ARRAY_LEN(method_names) ? method_names[m] : "_OTHER";
}

const char *kerno_role_name(unsigned int role)
{
	switch (role) {
	case KERNO_ROLE_CLIENT:
		return "client";
	case KERNO_ROLE_SERVER:
		return "server";
	default:
		return "unknown";
	}
}
