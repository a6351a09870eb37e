// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * libFuzzer target for the XML reader of S3 and STS replies
 * (user/xml_lite.c): the names the uploader and the credential providers
 * look for, and the element walk of ListMultipartUploads. Checked: inner
 * ranges lie inside the input and the walk always moves forward.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml_lite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"Code",		"Message",    "UploadId", "AccessKeyId", "SecretAccessKey",
		"SessionToken", "Expiration", "Key",	  "Initiated"
	};
	const char *xml = (const char *)data, *inner;
	size_t i, pos = 0, last, ilen;
	struct strbuf out = { 0 };

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		xml_text(xml, size, names[i], &out);
		sb_free(&out);
	}
	for (;;) {
		last = pos;
		if (xml_next(xml, size, "Upload", &pos, &inner, &ilen))
			break;
		if (pos <= last || pos > size || inner < xml || inner + ilen > xml + size)
			abort();
		xml_text(inner, ilen, "Key", &out);
		sb_free(&out);
	}
	return 0;
}
