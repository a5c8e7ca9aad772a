"""Entry point: ``locust -f scenarios/locustfile.py --host https://…/api/laml/2010-04-01``.

``StreamUser`` starts and stops streams over the profile's matrix;
``ProfileShape`` runs the profile's load shape (a constant load when it has none).
"""

from __future__ import annotations

from harness.io import lifeline
from scenarios import listeners as listeners, media_tab as media_tab
from scenarios.shapes import ProfileShape as ProfileShape
from scenarios.users import StreamUser as StreamUser


__all__ = ["ProfileShape", "StreamUser"]

# Locust imports this file before it forks its --processes workers: the master
# is tied to streamload, and each worker to the master (harness.io.lifeline).
lifeline.arm()
