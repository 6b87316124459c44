"""katib-llm runtime layer."""
