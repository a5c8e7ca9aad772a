"""The test hosts of tests/e2e/netns.py: separate namespaces reach each other through nginx over TLS."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import seconds
from tests.e2e import netns


pytestmark = pytest.mark.e2e

APP, EDGE, CLIENT = "198.18.0.11", "198.18.0.12", "198.18.0.13"
APP_PORT = 8080

_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web

    async def hello(request):
        return web.json_response({
            "host": request.host,
            "proto": request.headers.get("X-Forwarded-Proto"),
            "path": request.path,
        })

    async def echo(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str("echo:" + msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/hello", hello)
    app.router.add_get("/ws", echo)
    web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), print=None)
    """
)
_CLIENT = textwrap.dedent(
    """
    import asyncio, json, ssl, sys
    import aiohttp

    async def main(base, ca):
        ctx = ssl.create_default_context(cafile=ca)  # verifies the IP in the cert
        async with aiohttp.ClientSession() as s:
            async with s.get(f"https://{base}/public-hello", ssl=ctx) as r:
                seen = await r.json()
            async with s.get(f"https://{base}/elsewhere", ssl=ctx) as r:
                other = r.status
            async with s.ws_connect(f"wss://{base}/public-ws", ssl=ctx) as ws:
                await ws.send_str("ping")
                reply = (await ws.receive(timeout=5)).data
        print(json.dumps({"seen": seen, "other": other, "reply": reply}))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.fixture
def netns_ok() -> None:
    why = netns.unavailable()
    if why is not None:
        pytest.skip(why)


@pytest.fixture
def topology(netns_ok: None) -> Iterator[netns.Topology]:
    topo = netns.Topology()
    try:
        yield topo
    finally:
        topo.close()
        assert netns.leftovers(topo.prefix) == []


def test_a_client_reaches_a_server_in_another_namespace_through_nginx_tls(
    topology: netns.Topology, tmp_path: Path
) -> None:
    app = topology.add_host("app", APP)
    edge = topology.add_host("edge", EDGE)
    client = topology.add_host("client", CLIENT)
    certs = netns.make_certs(tmp_path / "tls", [EDGE])
    (tmp_path / "server.py").write_text(_SERVER)
    (tmp_path / "client.py").write_text(_CLIENT)
    topology.spawn(
        app,
        [sys.executable, str(tmp_path / "server.py"), APP, str(APP_PORT)],
        stderr=tmp_path / "server.log",
    )
    app.wait_listening(APP_PORT, seconds(20))
    nginx = netns.Nginx(
        topology,
        edge,
        tmp_path / "nginx",
        cert_file=certs.cert_files[EDGE],
        key_file=certs.key_files[EDGE],
        routes=[
            netns.Route("/public-hello", f"http://{APP}:{APP_PORT}/hello"),
            netns.Route("/public-ws", f"http://{APP}:{APP_PORT}/ws"),
        ],
    )
    nginx.start(seconds(10))
    # the server is not reachable on the edge's address: only nginx listens there
    assert not edge.listening(APP_PORT)
    done = client.run(
        [sys.executable, str(tmp_path / "client.py"), EDGE, str(certs.ca_file)],
        timeout=seconds(30),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:] + nginx.log_tail()
    result = json.loads(done.stdout)
    assert result["seen"] == {"host": EDGE, "proto": "https", "path": "/hello"}
    assert result["other"] == 404
    assert result["reply"] == "echo:ping"
    access = (tmp_path / "nginx" / "access.log").read_text()
    assert f"{CLIENT} " in access and " 101 " in access  # the upgrade went through
    nginx.kill()
    after = client.run(
        [sys.executable, str(tmp_path / "client.py"), EDGE, str(certs.ca_file)],
        timeout=seconds(30),
        check=False,
    )
    assert after.returncode != 0 and "Connect" in after.stderr


def test_close_removes_every_namespace_and_process(netns_ok: None) -> None:
    topo = netns.Topology()
    try:
        host = topo.add_host("one", "198.18.0.21")
        proc = topo.spawn(host, ["sleep", "300"])
        names = netns.leftovers(topo.prefix)
        assert sorted(names) == sorted([topo.prefix + "br", topo.prefix + "one"])
    finally:
        topo.close()
    assert proc.poll() is not None
    assert netns.leftovers(topo.prefix) == []
    with pytest.raises(ValueError, match="RFC 2544"):
        netns.Topology.add_host(topo, "bad", "10.0.0.1")
