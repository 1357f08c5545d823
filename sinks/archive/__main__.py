"""``python -m agent_audit.sinks.archive``: run one archive worker until SIGTERM (writes, commits, exits)."""

import logging

from agent_audit.core.runtime import tune_worker_process
from agent_audit.core.settings import Settings
from agent_audit.sinks.archive.config import ArchiveSettings
from agent_audit.sinks.archive.worker import ArchiveSink


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = Settings.from_env()
    sink = ArchiveSink(settings, ArchiveSettings.from_env(base=settings))
    tune_worker_process()
    sink.install_signal_handlers()
    sink.run()


if __name__ == "__main__":
    main()
