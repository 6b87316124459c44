"""``katib-llm provider register|list|delete`` against the API server stand-in."""

from __future__ import annotations

import yaml

from katib_llm.cli.main import main


def test_provider_cli_round_trip(apiserver, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KUBECONFIG", str(apiserver.write_kubeconfig(tmp_path)))
    assert main(["provider", "register", "lakefs", "--image", "registry.example.com/lakefs-fetch:1.2",
                 "--command", "python -m lakefs_fetch", "--arg", "{uri}", "--arg", "{target}",
                 "--secret", "lakefs-credentials", "-n", "team-a"]) == 0
    assert "registered provider lakefs://" in capsys.readouterr().out
    assert main(["provider", "list", "-n", "team-a"]) == 0
    listed = yaml.safe_load(capsys.readouterr().out)
    assert listed == [{"scheme": "lakefs", "image": "registry.example.com/lakefs-fetch:1.2",
                       "command": ["python", "-m", "lakefs_fetch"], "args": ["{uri}", "{target}"],
                       "secret": "lakefs-credentials"}]
    assert main(["provider", "delete", "lakefs", "-n", "team-a"]) == 0
    assert main(["provider", "list", "-n", "team-a"]) == 0
    assert "deleted provider lakefs://" in capsys.readouterr().out
    assert main(["provider", "delete", "lakefs", "-n", "team-a"]) == 1
    assert "404" in capsys.readouterr().err


def test_provider_cli_rejects_bad_declaration_and_missing_cluster(tmp_path, monkeypatch, capsys):
    assert main(["provider", "register", "Bad", "--image", "img:1", "--command", "x", "--dry-run"]) == 2
    assert "provider.scheme" in capsys.readouterr().err
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["provider", "list"]) == 2
    assert "no Kubernetes cluster configured" in capsys.readouterr().err
