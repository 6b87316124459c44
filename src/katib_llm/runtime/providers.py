"""Storage providers for the initializer: the registry. One module per scheme (``provider_<scheme>.py``),
all implementing ``provider_base.Provider``."""

from __future__ import annotations

from .provider_base import FileEntry, Provider, Source
from .provider_file import FileProvider
from .provider_hf import HuggingFaceProvider
from .provider_pkg import PackageProvider
from .provider_s3 import S3Provider

PROVIDERS: dict[str, type[Provider]] = {p.scheme: p for p in (HuggingFaceProvider, S3Provider, FileProvider,
                                                              PackageProvider)}


def provider_for(scheme: str) -> Provider:
    """The provider serving ``scheme``; KeyError if none (the URI parser rejects those first)."""
    return PROVIDERS[scheme]()


__all__ = ["FileEntry", "Provider", "Source", "PROVIDERS", "provider_for", "FileProvider",
           "HuggingFaceProvider", "PackageProvider", "S3Provider"]
