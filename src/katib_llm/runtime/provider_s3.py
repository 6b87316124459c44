"""``s3://<bucket>/<prefix>``: every object under the prefix, via boto3.

Endpoint and credentials come from the environment boto3 reads (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``...).
The revision is a digest of the object keys, sizes and ETags.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_base import FileEntry, Provider, Source
from .safepath import relative_name, target_in

_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "401", "ExpiredToken",
           "InvalidToken"}


def _client() -> Any:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)


def _explain(exc: BaseException, uri: StorageURI, kind: str) -> RuntimeInputError:
    from botocore.exceptions import ClientError, NoCredentialsError

    bucket = uri.location.partition("/")[0]
    if isinstance(exc, NoCredentialsError):
        return RuntimeInputError(f"{kind} {uri.raw}: no S3 credentials (set AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY through the provider's Secret)")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404"):
            return RuntimeInputError(f"{kind} {uri.raw}: bucket {bucket!r} does not exist")
        if code in _DENIED:
            return RuntimeInputError(f"{kind} {uri.raw}: access denied ({code}): check AWS_ACCESS_KEY_ID / "
                                     "AWS_SECRET_ACCESS_KEY and the bucket policy")
        return RuntimeInputError(f"{kind} {uri.raw}: S3 error {code}")
    return RuntimeInputError(f"{kind} {uri.raw}: cannot reach S3: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}")


def _errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


class S3Provider(Provider):
    scheme = "s3"

    def resolve(self, uri: StorageURI, kind: str) -> Source:
        bucket, _, prefix = uri.location.partition("/")
        client = _client()
        objects: list[tuple[str, str, int, str]] = []  # (relative path, key, size, etag)
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue  # folder marker
                    rel = key[len(prefix):].lstrip("/") if prefix else key
                    if prefix and rel and not prefix.endswith("/") and not key[len(prefix):].startswith("/"):
                        continue  # s3://b/model must not pick up s3://b/model-old/...
                    objects.append((rel or key.rsplit("/", 1)[-1], key, int(obj["Size"]), obj["ETag"].strip('"')))
        except _errors() as exc:
            raise _explain(exc, uri, kind) from None
        if not objects:
            raise RuntimeInputError(f"{kind} {uri.raw}: no objects under prefix {prefix!r} in bucket {bucket!r}")
        objects.sort()
        for rel, key, _, _ in objects:  # a key such as model/../../x must not pick its own path
            relative_name(rel, f"{kind} {uri.raw}: object key {key!r}")
        if len({rel for rel, _, _, _ in objects}) != len(objects):
            raise RuntimeInputError(f"{kind} {uri.raw}: two object keys map to the same file name")
        digest = hashlib.sha256("".join(f"{k}\0{s}\0{e}\n" for _, k, s, e in objects).encode()).hexdigest()
        files = tuple(FileEntry(rel, size, md5=etag if len(etag) == 32 and "-" not in etag else None)
                      for rel, _, size, etag in objects)
        return Source(uri, kind, digest, files, {"bucket": bucket, "keys": {rel: key for rel, key, _, _ in objects}})

    def fetch(self, source: Source, dest: Path) -> None:
        client = _client()
        try:
            for entry in source.files:
                target = target_in(dest, entry.path, f"{source.kind} {source.uri.raw}")
                client.download_file(source.details["bucket"], source.details["keys"][entry.path], str(target))
        except _errors() as exc:
            raise _explain(exc, source.uri, source.kind) from None
