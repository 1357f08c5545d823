"""OpenTelemetry GenAI spans in, audit events out: the producer-side adapter for agents in any language.

``genai`` maps one span to audit events by the GenAI semantic conventions (pure: it needs neither
the OpenTelemetry SDK nor protobuf, and the SDK bridge ``producers.otel_bridge`` uses it too).
``decode`` reads OTLP/HTTP trace requests (protobuf or JSON) into those spans; ``receiver`` is the
HTTP endpoint (``agent-audit otlp``) that records them on the raw topic. ``decode`` and ``receiver``
need ``pip install 'agent-audit[otlp]'`` (``opentelemetry-proto``).
"""

__all__: list[str] = []
