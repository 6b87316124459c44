"""Tests of katib-llm's runtime layer."""
