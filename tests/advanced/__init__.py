"""Tests of katib-llm's advanced layer."""
