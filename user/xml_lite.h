/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Just enough XML for S3 and STS replies: the text of a named element and
 * the elements of one name in turn. No DTDs, no namespaces beyond matching
 * the local name, entities &amp; &lt; &gt; &quot; &apos; and &#N; / &#xN;
 * decoded. Input is untrusted: bounded, never read past len (fuzzed:
 * selftests/fuzz/fuzz_xml_lite.c).
 */
#ifndef KERNO_XML_LITE_H
#define KERNO_XML_LITE_H

#include <stddef.h>

#include "strbuf.h"

/* The decoded text of the first <name> element in xml: 0, or -1 when there is none. */
int xml_text(const char *xml, size_t len, const char *name, struct strbuf *out);

/*
 * Find the next <name> element at or after *pos: 0 with its inner XML in
 * [*inner, *inner + *inner_len) and *pos moved past it, or -1 when none.
 */
int xml_next(const char *xml, size_t len, const char *name, size_t *pos, const char **inner,
	     size_t *inner_len);

#endif /* KERNO_XML_LITE_H */
