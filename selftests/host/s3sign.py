"""Generated S3 requests signed by botocore's S3 signer, to compare with Kerno's.

Each request is random but reproducible (seeded): object keys with spaces,
'+', '~', '//', UTF-8, '%'; query strings with empty and repeated keys and
values needing encoding; headers with runs of blanks and repeated names;
secrets with '/', '+', '='; session tokens or none.
"""

import datetime
import hashlib
import json
import random
from unittest import mock
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

KEY_PIECES = ["a", "logs", "traces", " ", "  ", "+", "~", "//", "/", "ü", "日本", "%", "%20", "=",
              "&", "?", "#", "!", "'", "(", ")", "*", ",", ";", ":", "@", "$", "year=2026",
              "x.json.gz", "-", "_", ".", "..", "\u2028", "é", "\U0001F600", "[", "]", "\\", "^"]
QUERY_KEYS = ["uploads", "uploadId", "partNumber", "prefix", "max-uploads", "list-type",
              "", "a b", "ü", "k+", "x~y", "%", "=", "a/b", "continuation-token"]
QUERY_VALUES = [None, "", "1", "10000", "a b", "+", "ü", "==", "a&b", "/x//y", "~", "%41", "*"]
HEADER_NAMES = ["Content-Type", "Content-Length", "Content-MD5", "x-amz-server-side-encryption",
                "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "x-amz-meta-note", "Cache-Control",
                "x-amz-storage-class", "X-Amz-Meta-Note", "Range", "If-None-Match"]
HEADER_VALUES = ["application/gzip", "0", "12345", "AES256", "aws:kms", "  padded  ",
                 "many   inner    blanks", "tab\there", "a,b", "arn:aws:kms:eu-west-1:1:key/x",
                 "\"etag\"", "bytes=0-99", "*", ""]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "auto"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _secret(rng):
    return "".join(rng.choice(ALNUM + "/+=") for _ in range(rng.choice([1, 20, 40, 64])))


def generate(n, seed=7):
    """n requests as dicts: the JSON lines sigv4_tool reads, plus 'body'."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        key = "".join(rng.choice(KEY_PIECES) for _ in range(rng.randint(1, 8)))
        query = []
        for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
            query.append((rng.choice(QUERY_KEYS), rng.choice(QUERY_VALUES)))
        headers = [["Host", rng.choice(["bucket.s3.amazonaws.com", "127.0.0.1:9000",
                                        "s3.eu-west-3.amazonaws.com", "minio.local:443"])]]
        for _ in range(rng.randint(0, 4)):
            headers.append([rng.choice(HEADER_NAMES), rng.choice(HEADER_VALUES)])
        body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 100])))
        out.append({
            "method": rng.choice(["PUT", "POST", "GET", "DELETE", "HEAD"]),
            "path": "/" + rng.choice(["", "bucket/"]) + key,
            "query": "&".join(quote(k, safe="-_.~") + ("" if v is None else "=" + quote(v, safe="-_.~"))
                              for k, v in query),
            "headers": headers,
            "payload_hash": hashlib.sha256(body).hexdigest(),
            "region": rng.choice(REGIONS),
            "time": rng.randint(1_000_000_000, 2_000_000_000),
            "ak": "".join(rng.choice(ALNUM) for _ in range(20)),
            "sk": _secret(rng),
            "token": rng.choice([None, None, _secret(rng)]),
            "body": body,
        })
    return out


class _FixedClock(datetime.datetime):
    now_value = None

    @classmethod
    def utcnow(cls):
        return cls.now_value


def botocore_authorization(req):
    """The Authorization header botocore's S3SigV4Auth puts on the request."""
    url = "http://" + req["headers"][0][1] + quote(req["path"], safe="/~")
    if req["query"]:
        url += "?" + req["query"]
    r = AWSRequest(method=req["method"], url=url, data=req["body"])
    for name, value in req["headers"]:
        r.headers[name] = value  # HTTPHeaders: a repeated name adds a value
    creds = Credentials(req["ak"], req["sk"], req["token"])
    _FixedClock.now_value = datetime.datetime.utcfromtimestamp(req["time"])
    with mock.patch("botocore.auth.datetime.datetime", _FixedClock):
        S3SigV4Auth(creds, "s3", req["region"]).add_auth(r)
    return r.headers["Authorization"]


def as_jsonl(reqs):
    return "".join(json.dumps({k: v for k, v in r.items() if k != "body"}) + "\n" for r in reqs)
