/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stable names of the kernel's enums (kern/capture.h). They appear in
 * telemetry (attribute values) and in `kerno top`, so once shipped a name
 * never changes: add new ones, never rename.
 */
#ifndef KERNO_NAMES_H
#define KERNO_NAMES_H

#include <stdbool.h>
#include "kerno_types.h"
#include "../kern/capture.h" /* not user/capture.h, the loader */

/*
 * snake_case name of counter c: the `reason` of a KERNO_DROP_* counter
 * ("conn_table_full") or the `event` of a KERNO_EV_* one ("accepted").
 * NULL when c is out of range.
 */
const char *kerno_counter_name(unsigned int c);

/* True for the KERNO_DROP_* counters (losses), false for KERNO_EV_*. */
bool kerno_counter_is_drop(unsigned int c);

/* HTTP method name ("GET"); "_OTHER" for KERNO_M_OTHER and unknown values. */
const char *kerno_method_name(unsigned int m);

/* "client", "server" or "unknown". */
const char *kerno_role_name(unsigned int role);

#endif /* KERNO_NAMES_H */
