"""katib-llm sdk layer."""
