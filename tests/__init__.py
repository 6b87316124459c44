"""katib-llm's test suite, a package so every folder imports the shared helpers as ``tests.<module>``
(``from tests.builders import experiment``) with pytest's default rootdir-based import, without
editing ``sys.path``."""
