/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `kerno bench-floor`: empty programs at the capture's hooks, for `make bench`. */
#ifndef KERNO_FLOOR_H
#define KERNO_FLOOR_H

#include "config.h"

int floor_run(const struct kerno_config *cfg);

#endif /* KERNO_FLOOR_H */
