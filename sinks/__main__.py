"""``python -m agent_audit.sinks``: run one Elasticsearch sink worker until SIGTERM (drains, then exits)."""

import logging

from agent_audit.core.runtime import tune_worker_process
from agent_audit.core.settings import Settings, require_keys
from agent_audit.sinks.worker import EventSink


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per bulk is noise
    settings = Settings.from_env()
    require_keys(settings, "sink")
    sink = EventSink(settings)
    tune_worker_process()
    sink.install_signal_handlers()
    sink.run()


if __name__ == "__main__":
    main()
