"""Tests of katib-llm's local layer."""
