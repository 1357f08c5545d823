"""One ``AuditTrail`` per (session, user, agent), the most recent ``limit`` kept: how spans that name
their own session, user and agent are recorded. Trails of one session share its ``seq`` counter, so
a session spread over several agents is still numbered from 0 without gaps."""

from __future__ import annotations

from collections import OrderedDict

from agent_audit.producers.trail import AuditTrail
from agent_audit.producers.transport import Transport

__all__ = ["TrailPerSession"]


class TrailPerSession:
    """``trail_for(session_id, user_id, agent)``; a missing id falls back to the ``user_id`` and
    ``agent`` given here (a missing session to ``"unknown"``)."""

    def __init__(self, agent: str, agent_version: str = "0", user_id: str = "unknown",
                 transport: Transport | None = None, level: str = "info", limit: int = 10_000) -> None:
        self.agent, self.agent_version, self.user_id = agent, agent_version, user_id
        self.transport, self.level, self.limit = transport, level, limit
        self._trails: OrderedDict[tuple[str, str, str], AuditTrail] = OrderedDict()

    def __call__(self, session_id: str | None, user_id: str | None, agent: str | None = None) -> AuditTrail:
        key = (session_id or "unknown", user_id or self.user_id, agent or self.agent)
        trail = self._trails.get(key)
        if trail is None:
            trail = self._trails[key] = AuditTrail(
                session_id=key[0], user_id=key[1], agent=key[2], agent_version=self.agent_version,
                level=self.level, transport=self.transport)
            if len(self._trails) > self.limit:
                self._trails.popitem(last=False)
        else:
            self._trails.move_to_end(key)
        return trail
