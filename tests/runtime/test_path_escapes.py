"""Paths stay inside their folder, for every provider: crafted S3 keys and hub file names,
absolute names, symlinks in source folders, and a tampered cache entry."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from katib_llm.runtime.errors import RuntimeInputError
from katib_llm.runtime.safepath import PathEscape, check_tree, relative_name, target_in
from katib_llm.runtime.storage_initializer import initialize, main


def _nothing_escaped(root: Path) -> None:
    """No file named escaped* anywhere under ``root`` (the test's whole temporary tree)."""
    assert not [p for p in root.rglob("escaped*")], list(root.rglob("escaped*"))


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "", "a\\..\\x",
                                  "a\0b", ".."])
def test_relative_name_refuses_every_escape(name):
    with pytest.raises(PathEscape):
        relative_name(name, "model s3://b/p")


def test_target_in_does_not_follow_a_planted_symlink(tmp_path):
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathEscape, match="not a folder"):
        target_in(dest, "sub/escaped.txt", "model file:///x")
    (dest / "file.txt").symlink_to(outside / "escaped.txt")
    with pytest.raises(PathEscape):
        target_in(dest, "file.txt", "model file:///x")
    assert target_in(dest, "new/dir/ok.txt", "w") == Path(os.path.realpath(dest)) / "new" / "dir" / "ok.txt"
    _nothing_escaped(tmp_path)


@pytest.mark.parametrize("key", ["model/../../../../escaped.txt", "model/./escaped.txt", "model/a/../../escaped.txt"])
def test_s3_key_that_climbs_out_is_refused_before_any_download(s3_env, tmp_path, key, capsys):
    import uuid

    import boto3

    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"])
    bucket = f"escape-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="model/config.json", Body=b"{}")
    client.put_object(Bucket=bucket, Key=key, Body=b"owned")
    work = tmp_path / "a" / "b" / "c" / "d"
    work.mkdir(parents=True)
    code = main(["model", f"s3://{bucket}/model", "--target", str(work / "t"), "--cache-dir", str(work / "cache")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and repr(key) in err and "outside" in err, err
    _nothing_escaped(tmp_path)
    assert not (work / "cache" / "entries").exists() or not any((work / "cache" / "entries").iterdir())


@pytest.mark.parametrize("name", ["../../escaped.txt", "/tmp/escaped-abs.txt"])
def test_hub_file_names_that_climb_out_are_refused(hub, tmp_path, name):
    hub.add("model", "evil/repo", {"config.json": b"{}", name: b"owned"})
    with pytest.raises(RuntimeInputError, match="download folder"):
        initialize("model", "hf://evil/repo", tmp_path / "t", tmp_path / "cache")
    _nothing_escaped(tmp_path)
    assert not Path("/tmp/escaped-abs.txt").exists()


def _source_with_link(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text("node secret")
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text("{}")
    return src, secret


def test_file_source_with_a_symlink_inside_is_refused(tmp_path):
    src, secret = _source_with_link(tmp_path)
    (src / "weights.bin").symlink_to(secret)
    with pytest.raises(RuntimeInputError, match="weights.bin is a symbolic link"):
        initialize("model", f"file://{src}", tmp_path / "t", tmp_path / "cache")
    (src / "weights.bin").unlink()
    (src / "sub").symlink_to(tmp_path, target_is_directory=True)  # a link to a folder: not walked either
    with pytest.raises(RuntimeInputError, match="sub is a symbolic link"):
        initialize("model", f"file://{src}", tmp_path / "t", tmp_path / "cache")


def test_file_root_through_a_symlink_is_refused(tmp_path):
    src, _ = _source_with_link(tmp_path)
    (tmp_path / "alias").symlink_to(src, target_is_directory=True)
    with pytest.raises(RuntimeInputError, match="symbolic link"):
        initialize("model", f"file://{tmp_path / 'alias'}", tmp_path / "t", tmp_path / "cache")
    summary = initialize("model", f"file://{src}", tmp_path / "t", tmp_path / "cache")  # the real folder works
    assert summary["downloaded"] is True and (tmp_path / "t" / "config.json").read_text() == "{}"


def test_pkg_source_with_a_symlink_inside_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "site" / "evil_pkg_katib"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model" / "config.json").write_text("{}")
    secret = tmp_path / "secret.txt"
    secret.write_text("node secret")
    (package / "model" / "tokenizer.json").symlink_to(secret)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    try:
        with pytest.raises(RuntimeInputError, match="tokenizer.json is a symbolic link"):
            initialize("model", "pkg://evil_pkg_katib/model", tmp_path / "t", tmp_path / "cache")
    finally:
        sys.modules.pop("evil_pkg_katib", None)


def _entry_data(summary: dict) -> Path:
    return Path(summary["entry"]) / "data"


@pytest.mark.parametrize("tamper", ["content", "extra-file", "symlink", "data-swapped"])
def test_a_tampered_cache_entry_is_not_trusted(tmp_path, tamper):
    src, secret = _source_with_link(tmp_path)
    (src / "weights.bin").write_bytes(b"w" * 1000)
    cache = tmp_path / "cache"
    first = initialize("model", f"file://{src}", tmp_path / "t1", cache)
    data = _entry_data(first)
    if tamper == "content":  # same size, other bytes: only the recorded sha256 catches it
        (data / "weights.bin").write_bytes(b"x" * 1000)
    elif tamper == "extra-file":
        (data / "trojan.py").write_text("import os")
    elif tamper == "symlink":
        (data / "weights.bin").unlink()
        (data / "weights.bin").symlink_to(secret)
    else:  # the data folder replaced by a link to a forged copy elsewhere
        forged = tmp_path / "forged"
        forged.mkdir()
        for f in data.iterdir():
            (forged / f.name).write_bytes(f.read_bytes())
        os.rename(data, tmp_path / "moved")
        data.symlink_to(forged, target_is_directory=True)
    second = initialize("model", f"file://{src}", tmp_path / "t2", cache)
    assert second["downloaded"] is True  # not trusted: made again from the source
    restored = _entry_data(second)
    assert not restored.is_symlink()
    check_tree(restored, "restored")
    assert (restored / "weights.bin").read_bytes() == b"w" * 1000
    assert sorted(p.name for p in restored.iterdir()) == ["config.json", "weights.bin"]
    assert secret.read_text() == "node secret"
    third = initialize("model", f"file://{src}", tmp_path / "t3", cache)
    assert third["downloaded"] is False  # an intact entry is reused
