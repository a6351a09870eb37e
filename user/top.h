/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `kerno top`: a live table of a running agent's endpoints, from its pinned maps. */
#ifndef KERNO_TOP_H
#define KERNO_TOP_H

#include "config.h"

int top_run(const struct kerno_config *cfg);

#endif /* KERNO_TOP_H */
