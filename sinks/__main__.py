"""``python -m sinks``: run one Elasticsearch sink worker until SIGTERM (drains, then exits)."""

import logging

from core.runtime import tune_worker_process
from core.settings import Settings
from sinks.worker import EventSink


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one line per bulk is noise
    sink = EventSink(Settings.from_env())
    tune_worker_process()
    sink.install_signal_handlers()
    sink.run()


if __name__ == "__main__":
    main()
