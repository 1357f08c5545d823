"""``python -m cli.commands``: the query and compliance commands without the rest of the CLI."""

import sys

from cli.commands import main

sys.exit(main())
