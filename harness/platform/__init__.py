"""The embedded reference platform: an asyncio shell that serves the conference-stream API.

It answers the REST contract of contract §1-2 over HTTPS (conference and call
streams) and streams a known test signal to each ``Url`` over wss (contract §5),
logging every frame it sends as ground truth. It can misbehave on purpose:
seeded impairments (``faults``, ``network``) logged in ``impairments``, and one
contract defect per named switch (``defects``). Media go out through one shared
ticker (``ticker``); ``--workers N`` spreads streams over N processes
(``workers``). Run it with ``python -m harness.platform``.
"""

from __future__ import annotations


__all__: list[str] = []
