"""katib-llm webhook layer."""
