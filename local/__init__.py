"""katib-llm local layer."""
