"""Shared I/O below the adapters: trial templates and admin values from files, YAML documents, and
the Kubernetes API access the SDK, the deploy layer and the CLI share.

The core stays pure; every adapter reads its inputs through here.
"""

from __future__ import annotations

from .templates import admin_config, load_templates, local_values, read_values, template_files
from .yamlio import configmaps_from, dump_yaml, read_documents

__all__ = ["admin_config", "configmaps_from", "dump_yaml", "load_templates", "local_values", "read_documents",
           "read_values",
           "template_files"]
