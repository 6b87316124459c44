"""A trial that requests GPUs and sees no CUDA device fails at once with a clear message."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")

from katib_llm.runtime.trainer import main  # noqa: E402


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gpu_requested_without_cuda_fails_at_once(tmp_path, capsys):
    start = time.monotonic()
    # No model, no dataset: the GPU check comes first, before any input is read.
    code = main([], {"KATIB_LLM_GPUS_PER_WORKER": "2", "KATIB_LLM_MODEL_DIR": str(tmp_path / "none"),
                     "KATIB_LLM_OUTPUT_DIR": str(tmp_path / "out")})
    assert code == 2 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "requests 2 GPU(s) per worker" in err and "CUDA sees none" in err and "refusing to train on CPU" in err
    assert not (tmp_path / "out").exists()


def test_zero_or_no_gpu_request_goes_on_to_the_inputs(tmp_path, capsys):
    for env in ({}, {"KATIB_LLM_GPUS_PER_WORKER": "0"}):
        assert main([], {**env, "KATIB_LLM_MODEL_DIR": str(tmp_path / "none")}) == 2
        err = capsys.readouterr().err
        assert "GPU" not in err and "KATIB_LLM_DATASET_DIR is not set" in err


def test_bad_gpu_count_is_named(capsys):
    assert main([], {"KATIB_LLM_GPUS_PER_WORKER": "two"}) == 2
    assert "KATIB_LLM_GPUS_PER_WORKER must be a whole number" in capsys.readouterr().err
