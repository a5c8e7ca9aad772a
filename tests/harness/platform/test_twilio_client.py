"""A real client we did not write: the ``twilio`` package against the platform (contract §6).

``twilio`` creates and stops *call* streams (it has no conference-stream
resource), form-encoded, at ``/2010-04-01/Accounts/{AC}/Calls/{CA}/Streams.json``
once its ``client.api.base_url`` points at the platform, which is how
SignalWire's own Twilio-based SDK reaches a space (contract §6). The platform
runs in the Twilio dialect (``AC``/``CA``/``MZ`` ids); the client is
synchronous, so it runs in a worker thread beside the loop serving it, and it
trusts the run's throwaway CA through its ``requests`` session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from harness.io.tls import TlsFiles
from tests.harness.platform.support import (
    TOKEN,
    PlatformUnderTest,
    Receiver,
    run,
    running_platform,
)


T = TypeVar("T")


@contextlib.contextmanager
def twilio_client(p: PlatformUnderTest, tls: TlsFiles) -> Iterator[Client]:
    """A ``twilio`` client aimed at the platform; its connections closed on exit."""
    http = TwilioHttpClient(timeout=10)
    assert http.session is not None
    http.session.verify = str(tls.ca_file)
    http.session.trust_env = False  # no proxy, no REQUESTS_CA_BUNDLE from the host
    client = Client(p.account, TOKEN, http_client=http)
    client.api.base_url = p.base  # contract §6: what SignalWire's SDK does
    try:
        yield client
    finally:
        http.session.close()


async def off_loop(call: Callable[[], T]) -> T:
    return await asyncio.to_thread(call)


def test_twilio_creates_and_stops_a_call_stream(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            running_platform(tls_files, dialect="twilio") as p,
        ):
            with twilio_client(p, tls_files) as client:
                await create_and_stop(client, p, receiver)

    run(main())


async def create_and_stop(
    client: Client, p: PlatformUnderTest, receiver: Receiver
) -> None:
    call = client.calls(p.calls[0])
    created = await off_loop(
        lambda: call.streams.create(
            url=receiver.url,
            name="from-twilio",
            track="both_tracks",
            parameter1_name="FirstName",
            parameter1_value="Jane",
        )
    )
    assert created.sid is not None and created.sid.startswith("MZ")
    assert (created.account_sid, created.call_sid) == (p.account, p.calls[0])
    assert (created.name, created.status) == ("from-twilio", "in-progress")
    assert created.date_updated is not None  # parsed as RFC 2822 by twilio
    conn = await receiver.wait_media(0, 2)
    start = conn.messages[1]
    assert start["streamSid"] == created.sid  # Twilio dialect: top-level sid
    assert start["start"]["callSid"] == p.calls[0]
    assert start["start"]["customParameters"] == {"FirstName": "Jane"}
    assert start["start"]["tracks"] == ["inbound", "outbound"]
    stopped = await off_loop(
        lambda: call.streams("from-twilio").update(status="stopped")
    )
    assert (stopped.sid, stopped.status) == (created.sid, "stopped")
    await receiver.wait_closed(0)
    assert conn.events()[-1] == "stop"
    again = await off_loop(lambda: call.streams(created.sid).update(status="stopped"))
    assert again.status == "stopped"


def test_twilio_reads_the_error_bodies(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(tls_files, dialect="twilio") as p:
            with twilio_client(p, tls_files) as client:
                calls = client.calls
                with pytest.raises(TwilioRestException) as caught:
                    await off_loop(
                        lambda: calls(p.calls[0]).streams.create(
                            url="ws://127.0.0.1:9/"
                        )
                    )
                assert (caught.value.status, caught.value.code) == (400, 31922)
                assert "WSS" in caught.value.msg
                with pytest.raises(TwilioRestException) as caught:
                    await off_loop(
                        lambda: calls("CA" + "0" * 32).streams.create(url="wss://h/")
                    )
                assert (caught.value.status, caught.value.code) == (404, 20404)
                wrong = Client(
                    p.account, "not-the-token", http_client=client.http_client
                )
                wrong.api.base_url = p.base
                with pytest.raises(TwilioRestException) as caught:
                    await off_loop(
                        lambda: wrong.calls(p.calls[0]).streams.create(url="wss://h/")
                    )
                assert (caught.value.status, caught.value.code) == (401, 20003)

    run(main())
