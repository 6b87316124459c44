"""Fixtures for the runtime tests: tiny models and datasets built here, fake hub and S3 servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.runtime_helpers import build_bert, build_gpt2, sentiment_rows, write_jsonl


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory) -> Path:
    return build_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2")


@pytest.fixture(scope="session")
def sentiment_dir(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "sentiment", sentiment_rows())


# -- servers ------------------------------------------------------------------------------

@pytest.fixture
def hub(tiny_bert, sentiment_dir, monkeypatch):
    """A fake Hugging Face Hub on 127.0.0.1 serving tiny/bert (also private/bert) and tiny-sent."""
    from tests.runtime.fakehub import FakeHub

    server = FakeHub().start()
    server.add_dir("model", "tiny/bert", tiny_bert)
    server.add_dir("model", "private/bert", tiny_bert, token="hf_good_token")
    server.add_dir("dataset", "tiny-sent", sentiment_dir)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_endpoint():
    """moto's S3 server on 127.0.0.1 (real HTTP, real boto3 signing)."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint, monkeypatch):
    env = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    return env


@pytest.fixture
def s3_bucket(s3_env, tiny_bert):
    """Bucket ``models`` holding tiny-bert under ``tiny-bert/`` (and a decoy ``tiny-bert-old/``)."""
    import uuid

    import boto3

    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    bucket = f"models-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    for path in sorted(tiny_bert.iterdir()):
        client.upload_file(str(path), bucket, f"tiny-bert/{path.name}")
    client.put_object(Bucket=bucket, Key="tiny-bert-old/config.json", Body=b"{}")
    return bucket
