"""Optional alert notifier: each alert record is POSTed as JSON to ``AUDIT_ALERT_WEBHOOK``.

For teams that page from chat tools. Retries with backoff on connection errors and 5xx; a 4xx is
the receiver's refusal and is not retried. The alert is on ``agent.alerts`` either way: the
webhook is a convenience, never the record, so a receiver that stays down is logged, not waited on.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import orjson

__all__ = ["WebhookNotifier"]

log = logging.getLogger(__name__)


class WebhookNotifier:
    def __init__(self, url: str, attempts: int = 4, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("AUDIT_ALERT_WEBHOOK must be an http(s) URL")
        self.url = url
        self.attempts = attempts
        self.timeout = timeout
        self.delivered = 0
        self.failed = 0

    def notify(self, alerts: Sequence[dict[str, Any]]) -> None:
        for alert in alerts:
            if self._post(alert):
                self.delivered += 1
            else:
                self.failed += 1
                log.warning("stream.webhook.failed alert_id=%s", alert.get("alert_id"))

    def _post(self, alert: dict[str, Any]) -> bool:
        body = orjson.dumps(alert)
        for attempt in range(self.attempts):
            request = urllib.request.Request(self.url, data=body, method="POST",  # noqa: S310 - checked
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310 - scheme checked
                    return True
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return False
            except OSError:
                pass
            time.sleep(min(0.5 * 2**attempt, 5.0))
        return False
