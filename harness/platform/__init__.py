"""The embedded reference platform: an asyncio shell that serves the conference-stream API.

It answers the REST contract of api.md §1-2 over HTTPS and streams a known
test signal to each ``Url`` over wss (api.md §5), logging every frame it sends
as ground truth. Run it with ``python -m harness.platform``.
"""

from __future__ import annotations


__all__: list[str] = []
