"""streamload's shared core: protocol model, rules, codecs, metrics and record schemas.

Everything directly in this package is sans-I/O (no sockets, no clock reads, no
asyncio/gevent/locust/pandas), except three edges named for what they touch:
``sink`` (writes record files), ``tls`` (writes throwaway certificates),
``platform/`` (the asyncio reference platform), ``cli`` (runs processes) and
``io/`` (the health probe and ready/stats lines every service shares).
"""

from __future__ import annotations


__all__: list[str] = []
