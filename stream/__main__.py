"""``python -m agent_audit.stream worker -l info --without-web``: run a stream worker (Faust's CLI)."""

import sys

from agent_audit.core.runtime import tune_worker_process
from agent_audit.core.settings import Settings
from agent_audit.stream.app import app
from agent_audit.stream.topics import wait_for_topics

if __name__ == "__main__":
    tune_worker_process()
    if sys.argv[1:2] == ["worker"]:
        # Faust exits when no broker answers at its start: wait for the broker and the topics first.
        settings = Settings.from_env()
        wait_for_topics(settings, [settings.topics.raw, settings.topics.partials, settings.topics.state],
                        "stream", "stream")
    app.main()
