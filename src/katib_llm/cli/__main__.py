"""``python -m katib_llm.cli``: the same as the ``katib-llm`` console script."""

import sys

from katib_llm.cli.main import main

sys.exit(main())
