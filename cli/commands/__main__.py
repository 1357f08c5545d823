"""``python -m agent_audit.cli.commands``: the query and compliance commands without the rest of the CLI."""

import sys

from agent_audit.cli.commands import main

sys.exit(main())
