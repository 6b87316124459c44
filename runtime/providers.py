"""Storage providers for the initializer, one module per scheme (see ``base.Provider``)."""

from __future__ import annotations

from .base import FileEntry, Provider, Source
from .file import FileProvider
from .hf import HuggingFaceProvider
from .pkg import PackageProvider
from .s3 import S3Provider

PROVIDERS: dict[str, type[Provider]] = {p.scheme: p for p in (HuggingFaceProvider, S3Provider, FileProvider,
                                                              PackageProvider)}


def provider_for(scheme: str) -> Provider:
    """The provider serving ``scheme``; KeyError if none (the URI parser rejects those first)."""
    return PROVIDERS[scheme]()


__all__ = ["FileEntry", "Provider", "Source", "PROVIDERS", "provider_for", "FileProvider",
           "HuggingFaceProvider", "PackageProvider", "S3Provider"]
