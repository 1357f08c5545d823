"""``agent-audit otlp``: the OTLP/HTTP receiver in the foreground until SIGTERM or Ctrl-C, then a
flush of what it recorded (the rest stays in the client's disk spool for the next start)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import replace
from types import FrameType

from agent_audit.cli.output import EXIT_FAILED, EXIT_OK

__all__ = ["serve"]


def serve(args: argparse.Namespace) -> int:
    from agent_audit.core.settings import Settings  # noqa: PLC0415
    from agent_audit.producers.kafka_transport import KafkaTransport  # noqa: PLC0415
    from agent_audit.producers.otlp.options import OtlpOptions  # noqa: PLC0415
    from agent_audit.producers.otlp.receiver import OtlpReceiver  # noqa: PLC0415

    settings = Settings.from_env()
    options = OtlpOptions.from_env()
    options = replace(options, host=args.host or options.host,
                      port=options.port if args.port is None else args.port)
    options.check(settings.production)
    transport = KafkaTransport(settings, exit_hook=False)
    receiver = OtlpReceiver(options, transport)
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        if not stopping.is_set():
            stopping.set()  # shutdown() waits for serve_forever: call it off the serving thread
            threading.Thread(target=receiver.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"agent-audit otlp: listening on {receiver.url} -> {settings.topics.raw} at "
          f"{settings.kafka_bootstrap}", file=sys.stderr, flush=True)
    receiver.serve_forever()
    delivered = receiver.stop(flush_timeout=10)
    transport.shutdown(5)
    print(f"agent-audit otlp: stopped; {receiver.recorder.events} events recorded, "
          f"{receiver.recorder.rejected} spans rejected, delivered: {delivered}", file=sys.stderr)
    return EXIT_OK if delivered else EXIT_FAILED
