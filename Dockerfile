# Image of the pipeline's workers (stream, sink) and CLI, for docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY producers producers
COPY stream stream
COPY sinks sinks
COPY stack stack
COPY cli cli
COPY demo demo
COPY kibana kibana
COPY agent_audit agent_audit
COPY LICENSE LICENSE
RUN pip install --no-cache-dir ".[server]" && useradd --system --no-create-home audit
USER audit
CMD ["agent-audit", "--help"]
