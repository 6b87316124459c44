"""Tests of katib-llm's sdk layer."""
