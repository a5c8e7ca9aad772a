"""A loopback API proxy with a concurrency limit: the knee a capacity test sets up.

``python -m tests.e2e.knee --upstream URL --ca-file CA --limit N`` forwards the
Compatibility API to a reference platform over HTTPS and answers 429 (code
20429, "too many requests") to any start request beyond ``N`` live streams, as
a real account's concurrency limit would. It listens on plain HTTP on loopback
(the CLI allows ``http://`` there) and prints one JSON ready line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import ssl

from aiohttp import ClientSession, TCPConnector, web


STREAMS = re.compile(r"/Conferences/[^/]+/Streams(?P<one>/[^/]+)?$")


def app(upstream: str, context: ssl.SSLContext, limit: int) -> web.Application:
    live = 0
    session: ClientSession | None = None

    async def forward(request: web.Request) -> web.Response:
        nonlocal live, session
        if session is None:
            session = ClientSession(connector=TCPConnector(ssl=context))
        path = request.path.removeprefix("/api/laml/2010-04-01")
        m = STREAMS.search(path)
        creating = request.method == "POST" and m is not None and not m.group("one")
        stopping = request.method == "POST" and m is not None and bool(m.group("one"))
        if creating and live >= limit:
            return web.json_response(
                {
                    "code": 20429,
                    "message": "Too many requests",
                    "more_info": "https://signalwire.com/docs/compatibility-api/reference/errors",
                    "status": 429,
                },
                status=429,
            )
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "accept")
        }
        async with session.request(
            request.method,
            upstream + path,
            params=request.query,
            data=await request.read(),
            headers=headers,
        ) as resp:
            body = await resp.read()
            if resp.status == 200 and creating:
                live += 1
            elif resp.status == 200 and stopping:
                live = max(0, live - 1)
            return web.Response(
                body=body, status=resp.status, content_type=resp.content_type
            )

    async def close(_app: web.Application) -> None:
        if session is not None:
            await session.close()

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", forward)
    application.on_cleanup.append(close)
    return application


async def serve(upstream: str, ca_file: str, limit: int) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    runner = web.AppRunner(app(upstream, context, limit), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}/api/laml/2010-04-01"
    print(json.dumps({"event": "ready", "url": url}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=300)
    except TimeoutError:
        pass
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--limit", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.upstream.rstrip("/"), args.ca_file, args.limit))


if __name__ == "__main__":
    main()
