"""``hf://<repo>[@<revision>]``: Hugging Face Hub models and datasets (``repo_type="dataset"``).

Honours ``HF_ENDPOINT`` (a mirror or our test server) and ``HF_TOKEN``, read from the process
environment when called, so credentials only ever come from the pod's ``envFrom`` Secret.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_base import FileEntry, Provider, Source
from .safepath import check_tree, relative_name

DEFAULT_ENDPOINT = "https://huggingface.co"


def _endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def _explain(exc: BaseException, uri: StorageURI, kind: str) -> RuntimeInputError:
    """One line for the hub errors users meet: missing repo, bad token, unknown revision."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, RevisionNotFoundError):
        return RuntimeInputError(f"{kind} {uri.raw}: revision {uri.revision or 'main'!r} not found in {uri.location}")
    if isinstance(exc, GatedRepoError) or status == 403:
        return RuntimeInputError(f"{kind} {uri.raw}: access denied (HTTP 403): the repo is gated or HF_TOKEN "
                                 "lacks access")
    if isinstance(exc, RepositoryNotFoundError) or status == 404:
        return RuntimeInputError(f"{kind} {uri.raw}: repository {uri.location!r} not found on {_endpoint()} "
                                 "(or it is private and HF_TOKEN is missing or invalid)")
    if status == 401:
        return RuntimeInputError(f"{kind} {uri.raw}: unauthorized (HTTP 401): HF_TOKEN is invalid")
    if isinstance(exc, HfHubHTTPError):
        return RuntimeInputError(f"{kind} {uri.raw}: hub error (HTTP {status}) from {_endpoint()}")
    return RuntimeInputError(f"{kind} {uri.raw}: cannot reach {_endpoint()}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}")


def _network_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    return (HfHubHTTPError, httpx2.HTTPError)


class HuggingFaceProvider(Provider):
    scheme = "hf"

    def _api(self) -> Any:
        from huggingface_hub import HfApi

        return HfApi(endpoint=_endpoint(), token=_token())

    def resolve(self, uri: StorageURI, kind: str) -> Source:
        from huggingface_hub.hf_api import RepoFile

        repo_type = "dataset" if kind == "dataset" else "model"
        api = self._api()
        try:
            info = api.repo_info(uri.location, repo_type=repo_type, revision=uri.revision or "main")
            sha = info.sha
            tree = [f for f in api.list_repo_tree(uri.location, repo_type=repo_type, revision=sha, recursive=True)
                    if isinstance(f, RepoFile)]
        except _network_errors() as exc:
            raise _explain(exc, uri, kind) from None
        for f in tree:  # a hub (or a mirror) naming a file ../x or /x must not choose where we write
            relative_name(f.path, f"{kind} {uri.raw}")
        files = tuple(FileEntry(f.path, int(f.size), f.lfs.sha256 if f.lfs else None) for f in tree)
        if not files:
            raise RuntimeInputError(f"{kind} {uri.raw}: repository {uri.location!r} has no files at {sha}")
        return Source(uri, kind, sha, files, {"repo_type": repo_type})

    def fetch(self, source: Source, dest: Path) -> None:
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()  # progress bars garble init-container logs

        scratch = dest.parent / (dest.name + ".hf-cache")
        try:
            snapshot_download(source.uri.location, repo_type=source.details["repo_type"], revision=source.revision,
                              local_dir=str(dest), cache_dir=str(scratch), endpoint=_endpoint(), token=_token(),
                              max_workers=4)
        except _network_errors() as exc:
            raise _explain(exc, source.uri, source.kind) from None
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(dest / ".cache", ignore_errors=True)  # local_dir bookkeeping, not content
        check_tree(dest, f"{source.kind} {source.uri.raw}")
