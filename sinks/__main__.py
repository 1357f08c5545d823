"""``python -m sinks``: run one Elasticsearch sink worker until SIGTERM (drains, then exits)."""

import logging

from core.settings import Settings
from sinks.worker import EventSink


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sink = EventSink(Settings.from_env())
    sink.install_signal_handlers()
    sink.run()


if __name__ == "__main__":
    main()
