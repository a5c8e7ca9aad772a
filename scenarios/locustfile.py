"""Entry point: ``locust -f scenarios/locustfile.py --host https://…/api/laml/2010-04-01``."""

from __future__ import annotations

from scenarios import listeners as listeners
from scenarios.users import StreamUser as StreamUser


__all__ = ["StreamUser"]
