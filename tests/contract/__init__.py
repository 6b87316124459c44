"""Tests of katib-llm's contract layer."""
