"""The ``katib-llm`` command, the top layer: it may import every other layer, none imports it."""
