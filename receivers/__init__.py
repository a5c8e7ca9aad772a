"""The receiving shell: the wss servers the platform dials, recording every stream.

asyncio on uvloop with picows (or websockets, ``--transport``) around the sans-I/O
:mod:`harness.core.session`;
run it as ``python -m receivers``. It never imports locust, gevent or pandas.
"""

from __future__ import annotations


__all__: list[str] = []
