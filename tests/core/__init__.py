"""Tests of katib-llm's core layer."""
