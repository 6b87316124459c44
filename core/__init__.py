"""katib-llm core layer."""
