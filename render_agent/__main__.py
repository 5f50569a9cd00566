"""`python -m render_agent`: the same as `aipipe-agent`."""

import sys

from .cli import main

sys.exit(main())
