"""The REST API over real HTTPS on loopback, answers checked against the OpenAPI excerpt.

contract §1 (paths, auth), §1.2 (response), §1.3 (errors), §2.1 (stop), §9.
"""

from __future__ import annotations

import io
import time
import uuid
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from harness.io.tls import TlsFiles
from harness.platform.core.faults import Faults
from tests.harness.platform.support import (
    TOKEN,
    PlatformUnderTest,
    Receiver,
    basic,
    run,
    running_platform,
    schema_validator,
)


@pytest.fixture(scope="module")
def schemas() -> dict[str, Draft202012Validator]:
    names = (
        "ConferenceStreamResponse",
        "CompatibilityErrorResponse",
        "CompatibilityErrorStringArrayResponse",
    )
    return {name: schema_validator(name) for name in names}


def check_stream(
    schemas: dict[str, Draft202012Validator], body: Any, status: str
) -> None:
    schemas["ConferenceStreamResponse"].validate(body)
    assert body["status"] == status
    assert parsedate_to_datetime(body["date_updated"]).utcoffset() is not None


def check_error(
    schemas: dict[str, Draft202012Validator], http: int, body: Any, code: int
) -> None:
    schemas["CompatibilityErrorResponse"].validate(body)
    assert (body["status"], body["code"]) == (http, code)


def check_errors(schemas: dict[str, Draft202012Validator], body: Any) -> list[str]:
    schemas["CompatibilityErrorStringArrayResponse"].validate(body)
    errors: list[str] = body["errors"]
    return errors


@pytest.mark.parametrize("prefix", ["/api/laml/2010-04-01", "/2010-04-01"])
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_create_and_stop_by_sid_on_every_path_variant(
    tls_files: TlsFiles,
    schemas: dict[str, Draft202012Validator],
    prefix: str,
    suffix: str,
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            status, body = await p.create(
                {"Url": receiver.url}, prefix=prefix, suffix=suffix
            )
            assert status == 200, body
            check_stream(schemas, body, "in-progress")
            sid = body["sid"]
            assert set(body) == {
                "account_sid",
                "conference_sid",
                "date_updated",
                "name",
                "sid",
                "status",
                "uri",
            }
            assert (body["account_sid"], body["conference_sid"], body["name"]) == (
                p.account,
                p.conference,
                None,
            )
            assert body["uri"] == (
                f"/api/laml/2010-04-01/Accounts/{p.account}/Conferences/{p.conference}/Streams/{sid}.json"
            )
            conn = await receiver.wait_media(0, 1)
            assert conn.messages[1]["start"]["streamSid"] == sid
            status, body = await p.stop(sid, prefix=prefix, suffix=suffix)
            assert status == 200, body
            check_stream(schemas, body, "stopped")
            assert body["sid"] == sid
            await receiver.wait_closed(0)
            assert receiver.connections[0].events()[-1] == "stop"

    run(main())


def test_stop_by_name_and_stop_twice(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            status, created = await p.create({"Url": receiver.url, "Name": "my stream"})
            assert status == 200 and created["name"] == "my stream"
            await receiver.wait_media(0, 1)
            status, body = await p.stop("my stream", suffix=".json")
            assert status == 200
            check_stream(schemas, body, "stopped")
            assert (body["sid"], body["name"]) == (created["sid"], "my stream")
            for key in (created["sid"], "my stream"):  # already stopped: same answer
                status, again = await p.stop(key)
                assert (status, again["status"], again["sid"]) == (
                    200,
                    "stopped",
                    created["sid"],
                )
            await receiver.wait_closed(0)
            (record,) = p.sink.rows["platform_streams"]
            assert record[11] == "stopped"

    run(main())


def test_json_body_is_accepted(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            status, body = await p.post(
                p.streams_url(),
                json_body={
                    "Url": receiver.url,
                    "Name": "j",
                    "StreamRealTime": True,
                    "StatusCallback": None,
                    "Parameter1.Name": "n",
                    "Parameter1.Value": 7,
                },
            )
            assert status == 200, body
            check_stream(schemas, body, "in-progress")
            conn = await receiver.wait_media(0, 1)
            assert conn.messages[1]["start"]["customParameters"] == {"n": "7"}
            status, _ = await p.post(
                p.streams_url(sid="j"), json_body={"Status": "stopped"}
            )
            assert status == 200

    run(main())


def test_duplicate_name_in_a_conference(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            assert (await p.create({"Url": receiver.url, "Name": "dup"}))[0] == 200
            status, body = await p.create({"Url": receiver.url, "Name": "dup"})
            assert status == 422
            assert check_errors(schemas, body) == ["Name: Duplicated stream name"]
            other = p.conferences[1]
            assert (
                await p.create({"Url": receiver.url, "Name": "dup"}, conference=other)
            )[0] == 200
            assert (await p.stop("dup"))[0] == 200
            assert (await p.create({"Url": receiver.url, "Name": "dup"}))[
                0
            ] == 200  # the name is free again

    run(main())


def test_authentication_failures(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            url = p.streams_url()
            form = {"Url": "wss://127.0.0.1:9/"}
            attempts = [
                {},
                basic(p.account, "wrong-token"),
                basic(str(uuid.uuid4()), TOKEN),
                {"Authorization": "Bearer " + TOKEN},
                {"Authorization": "Basic %%%"},
                {"Authorization": "Basic bm9jb2xvbg=="},  # "nocolon"
            ]
            for headers in attempts:
                status, body = await p.post(url, form, headers=headers, auth=False)
                assert status == 401, headers
                check_error(schemas, 401, body, 20003)
                assert body["message"] == "Authentication failed"
            async with p.http.get(
                url.replace("/Conferences/" + p.conference + "/Streams", "/Conferences")
            ) as r:
                assert r.status == 401
            assert p.supervisor.registry.total_count == 0

    run(main())


def test_not_found(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            form = {"Url": "wss://127.0.0.1:9/"}
            cases = [
                p.streams_url(account=str(uuid.uuid4())),  # another account, after auth
                p.streams_url(conference=str(uuid.uuid4())),
                p.streams_url(sid=str(uuid.uuid4())),  # unknown stream
                p.streams_url(sid="no-such-name", suffix=".json"),
                p.streams_url(conference=str(uuid.uuid4()), sid="x"),
                f"{p.base}/api/laml/2010-04-01/Accounts/{p.account}/Calls/x/Streams",
                f"{p.base}/nothing/here",
            ]
            for url in cases:
                data = {"Status": "stopped"} if "/Streams/" in url else form
                status, body = await p.post(url, data)
                assert status == 404, url
                check_error(schemas, 404, body, 20404)
            async with p.http.get(
                p.streams_url(), headers=basic(p.account, TOKEN)
            ) as r:
                assert r.status == 405
                check_error(schemas, 405, await r.json(), 20004)

    run(main())


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"Track": "left_track"},
            ["Track: Track must be one of inbound_track, outbound_track, both_tracks"],
        ),
        (
            {"StreamCodec": "G722"},
            [
                "StreamCodec: StreamCodec must be one of PCMU, PCMA, L16, L16@16000h, L16@24000h"
            ],
        ),
        (
            {
                "Parameter1.Name": "a",
                "Parameter1.Value": "1",
                "Parameter3.Name": "c",
                "Parameter3.Value": "3",
            },
            ["Parameter2.Name: custom parameters must be numbered without gaps"],
        ),
        (
            {"Parameter100.Name": "a", "Parameter100.Value": "b"},
            ["Parameter100.Name: custom parameters are numbered 1 to 99"],
        ),
        ({"Parameter1.Name": "a"}, ["Parameter1.Value: a name without a value"]),
        ({"Url": ""}, ["Url: Url is required"]),
        ({"Url": None}, ["Url: Url is required"]),
        (
            {"StatusCallbackMethod": "PUT"},
            ["StatusCallbackMethod: StatusCallbackMethod must be GET or POST"],
        ),
        (
            {"StreamRealTime": "maybe"},
            ["StreamRealTime: StreamRealTime must be true or false"],
        ),
    ],
)
def test_validation_errors_are_422(
    tls_files: TlsFiles,
    schemas: dict[str, Draft202012Validator],
    fields: dict[str, str | None],
    errors: list[str],
) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            form = {"Url": "wss://127.0.0.1:9/media", **fields}
            status, body = await p.create(
                {k: v for k, v in form.items() if v is not None}
            )
            assert status == 422
            assert check_errors(schemas, body) == errors
            assert p.supervisor.registry.total_count == 0

    run(main())


def test_ninety_nine_parameters_are_fine(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            form = {"Url": receiver.url}
            for i in range(1, 100):
                form[f"Parameter{i}.Name"] = f"p{i}"
                form[f"Parameter{i}.Value"] = f"v{i}"
            status, body = await p.create(form)
            assert status == 200, body
            conn = await receiver.wait_media(0, 1)
            assert len(conn.messages[1]["start"]["customParameters"]) == 99

    run(main())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://127.0.0.1:9/media", "Url: the websocket URL schema is not WSS"),
        ("https://127.0.0.1:9/media", "Url: the websocket URL schema is not WSS"),
        ("wss://127.0.0.1:9/media ", "Url: the websocket URL has whitespace"),
        ("wss://127.0.0.1:9/me dia", "Url: the websocket URL has whitespace"),
        ("wss:///nohost", "Url: the websocket URL provided is invalid"),
    ],
)
def test_bad_websocket_urls_are_400_31922(
    tls_files: TlsFiles,
    schemas: dict[str, Draft202012Validator],
    url: str,
    message: str,
) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            status, body = await p.create(
                {"Url": url, "Track": "bad"}
            )  # the coded error wins
            assert status == 400
            check_error(schemas, 400, body, 31922)
            assert body["message"] == message

    run(main())


def test_stop_validation(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            _, created = await p.create({"Url": receiver.url})
            url = p.streams_url(sid=created["sid"])
            for data, error in (
                ({}, "Status: Status is required"),
                ({"Status": "in-progress"}, "Status: Only 'stopped' is allowed"),
            ):
                status, body = await p.post(url, data)
                assert status == 422
                assert check_errors(schemas, body) == [error]
            assert (await p.stop(created["sid"]))[0] == 200

    run(main())


def test_malformed_bodies_get_4xx_naming_the_field(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            url = p.streams_url()
            cases: list[tuple[bytes, str, str]] = [
                (b"{not json", "application/json", "body: is not valid JSON"),
                (b"[1, 2]", "application/json", "body: must be a JSON object"),
                (b"[" * 100_000, "application/json", "body: is not valid JSON"),
                (
                    b'{"Url": {"nested": 1}}',
                    "application/json",
                    "Url: must be a string",
                ),
                (
                    b"Url=\xff\xfe",
                    "application/x-www-form-urlencoded",
                    "body: could not be read as a form",
                ),
                (b"", "application/json", "Url: Url is required"),
                (b"garbage", "text/plain", "Url: Url is required"),
                (b"--x\r\nbroken", "multipart/form-data; boundary=x", "body:"),
            ]
            for raw, ctype, start in cases:
                status, body = await p.post(url, raw, headers={"Content-Type": ctype})
                assert status == 422, (raw, body)
                assert body["errors"][0].startswith(start), (raw, body)
            big = io.BytesIO(b"Url=" + b"x" * (2 * 1024**2))
            status, body = await p.post(
                url, big, headers={"Content-Type": "application/x-www-form-urlencoded"}
            )
            assert status == 413 and body["status"] == 413

    run(main())


def test_list_conferences(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(tls_files, conferences=3) as p:
            for prefix in ("/api/laml/2010-04-01", "/2010-04-01"):
                for suffix in ("", ".json"):
                    url = f"{p.base}{prefix}/Accounts/{p.account}/Conferences{suffix}"
                    async with p.http.get(url, headers=basic(p.account, TOKEN)) as r:
                        assert r.status == 200
                        page = await r.json()
                    assert [c["sid"] for c in page["conferences"]] == p.conferences
                    assert {c["status"] for c in page["conferences"]} == {"in-progress"}
                    assert (
                        page["page"],
                        page["page_size"],
                        page["start"],
                        page["end"],
                    ) == (0, 50, 0, 2)
                    assert page["next_page_uri"] is None

    run(main())


def test_streams_that_fail_to_connect_free_their_name(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(tls_files) as p:
            async with Receiver(tls_files, refuse=True) as refusing:
                status, body = await p.create({"Url": refusing.url, "Name": "r"})
                assert status == 200
                await p.supervisor.join(body["sid"])
                assert p.supervisor.registry.live_count == 0
            status, body = await p.stop("r")
            assert (status, body["status"]) == (200, "stopped")
            (record,) = p.sink.rows["platform_streams"]
            assert record[11] == "connect-failed"

    run(main())


def test_twilio_dialect_uri(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            running_platform(tls_files, dialect="twilio") as p,
        ):
            status, body = await p.create(
                {"Url": receiver.url}, prefix="/2010-04-01", suffix=".json"
            )
            assert status == 200
            assert body["sid"].startswith("MZ") and body["account_sid"].startswith("AC")
            assert body["uri"].startswith(
                f"/2010-04-01/Accounts/{p.account}/Conferences/"
            )

    run(main())


# -- call streams (contract §2.2) ------------------------------------------------


@pytest.fixture(scope="module")
def call_schema() -> Draft202012Validator:
    return schema_validator("CallStreamResponse")


@pytest.mark.parametrize("prefix", ["/api/laml/2010-04-01", "/2010-04-01"])
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_call_streams_create_and_stop(
    tls_files: TlsFiles,
    call_schema: Draft202012Validator,
    prefix: str,
    suffix: str,
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            url = p.call_streams_url(prefix=prefix, suffix=suffix)
            status, body = await p.post(url, {"Url": receiver.url})
            assert status == 200, body
            call_schema.validate(body)
            sid = body["sid"]
            assert (
                body
                == {
                    "sid": sid,
                    "account_sid": p.account,
                    "call_sid": p.calls[0],
                    "name": sid,  # "string, not nullable": the sid stands in, as StreamName does
                    "status": "in-progress",
                    "date_updated": body["date_updated"],
                    "uri": f"/api/laml/2010-04-01/Accounts/{p.account}/Calls/{p.calls[0]}/Streams/{sid}.json",
                }
            )
            conn = await receiver.wait_media(0, 1)
            start = conn.messages[1]["start"]
            assert (start["streamSid"], start["callSid"]) == (sid, p.calls[0])
            assert start["tracks"] == ["inbound", "outbound"]  # SignalWire default
            url = p.call_streams_url(prefix=prefix, suffix=suffix, sid=sid)
            status, body = await p.post(url, {"Status": "stopped"})
            assert (status, body["status"]) == (200, "stopped")
            call_schema.validate(body)
            await receiver.wait_closed(0)

    run(main())


def test_call_streams_by_name_and_their_errors(
    tls_files: TlsFiles,
    call_schema: Draft202012Validator,
    schemas: dict[str, Draft202012Validator],
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            form = {"Url": receiver.url, "Name": "agent"}
            status, created = await p.post(p.call_streams_url(), form)
            assert (status, created["name"]) == (200, "agent")
            status, body = await p.post(p.call_streams_url(), form)  # per call
            assert status == 422
            check_error(schemas, 422, body, 422)
            assert body["message"] == "Name: Duplicated stream name"
            other = p.call_streams_url(p.calls[1])
            assert (await p.post(other, form))[0] == 200
            for field, value in (("StreamCodec", "PCMU"), ("StreamRealTime", "true")):
                status, body = await p.post(
                    p.call_streams_url(), {"Url": receiver.url, field: value}
                )
                assert status == 422  # contract §2.2: not on call streams
                check_error(schemas, 422, body, 422)
                assert body["message"].startswith(f"{field}: ")
            status, body = await p.post(
                p.call_streams_url(), {"Url": "ws://127.0.0.1:9/"}
            )
            assert status == 400
            check_error(schemas, 400, body, 31922)
            url = p.call_streams_url(sid="agent", suffix=".json")
            status, body = await p.post(url, {"Status": "stopped"})
            assert (status, body["sid"]) == (200, created["sid"])
            status, body = await p.post(url, {"Status": "paused"})
            assert status == 422
            check_error(schemas, 422, body, 422)
            for bad in (
                p.call_streams_url(str(uuid.uuid4())),
                p.call_streams_url(sid="nope"),
            ):
                data = {"Status": "stopped"} if "/Streams/" in bad else form
                status, body = await p.post(bad, data)
                assert status == 404
                check_error(schemas, 404, body, 20404)
            stream = p.supervisor.registry.find(p.calls[0], created["sid"])
            assert stream is not None and stream.conference_sid == ""

    run(main())


def test_list_calls(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(tls_files, calls=3) as p:
            for prefix in ("/api/laml/2010-04-01", "/2010-04-01"):
                url = f"{p.base}{prefix}/Accounts/{p.account}/Calls.json"
                async with p.http.get(url, headers=basic(p.account, TOKEN)) as r:
                    assert r.status == 200
                    page = await r.json()
                assert [c["sid"] for c in page["calls"]] == p.calls
                assert {c["status"] for c in page["calls"]} == {"in-progress"}
                assert page["end"] == 2 and page["next_page_uri"] is None
            async with p.http.get(url) as r:
                assert r.status == 401

    run(main())


def test_twilio_call_streams(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            running_platform(tls_files, dialect="twilio") as p,
        ):
            url = p.call_streams_url(prefix="/2010-04-01", suffix=".json")
            status, body = await p.post(url, {"Url": receiver.url})
            assert status == 200
            assert body["sid"].startswith("MZ") and body["call_sid"].startswith("CA")
            assert body["name"] is None  # Twilio's name is nullable (contract §2.3)
            assert body["uri"].startswith(f"/2010-04-01/Accounts/{p.account}/Calls/")
            conn = await receiver.wait_media(0, 1)
            assert conn.messages[1]["start"]["tracks"] == ["inbound"]  # Twilio default

    run(main())


# -- faults and defects on the REST side --------------------------------------


def test_api_errors_at_the_set_rate_are_logged(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def main() -> None:
        faults = Faults(api_error=0.5)
        async with running_platform(tls_files, faults=faults, seed=3) as p:
            statuses = []
            for _ in range(40):
                status, body = await p.create({"Url": "wss://127.0.0.1:9/"})
                statuses.append(status)
                if status >= 500:
                    check_error(schemas, status, body, status + 20000)
                    assert body["message"] in (
                        "Internal Server Error",
                        "Service Unavailable",
                    )
            status, body = await p.stop("some-name")
            statuses.append(status)
            failed = [s for s in statuses if s >= 500]
            assert 8 < len(failed) < 32 and {500, 503} == set(failed)
            events = p.sink.rows["impairments"]
            assert len(events) == len(failed)
            assert {e[3] for e in events} == {"api-error"}
            assert {str(e[6]).split()[1] for e in events} <= {"create", "stop"}
            assert p.supervisor.registry.total_count == statuses.count(200)

    run(main())


def test_api_latency_delays_every_answer(tls_files: TlsFiles) -> None:
    async def main() -> None:
        faults = Faults(api_latency_ns=80_000_000)
        async with running_platform(tls_files, faults=faults) as p:
            for url in (p.streams_url(), f"{p.base}/nothing"):
                started = time.monotonic()
                status, _ = await p.post(url, {"Url": "bad"})
                assert status in (400, 404)
                assert time.monotonic() - started >= 0.08

    run(main())


def test_rest_defects_change_only_their_field(
    tls_files: TlsFiles, schemas: dict[str, Draft202012Validator]
) -> None:
    async def answers(
        defect: str,
    ) -> tuple[dict[str, Any], dict[str, Any], PlatformUnderTest]:
        async with running_platform(tls_files, defects=frozenset({defect})) as p:
            status, created = await p.create({"Url": "wss://127.0.0.1:9/"})
            assert status == 200
            status, stopped = await p.stop(created["sid"])
            assert status == 200
            return created, stopped, p

    async def main() -> None:
        created, stopped, p = await answers("date-format")
        assert "T" in created["date_updated"] and created["date_updated"].endswith(
            "+00:00"
        )
        created, _, _ = await answers("extra-field")
        assert created["api_version"] == "2010-04-01" and len(created) == 8
        created, stopped, _ = await answers("status-stopped")
        assert (created["status"], stopped["status"]) == ("stopped", "stopped")
        created, _, _ = await answers("name-not-null")
        assert created["name"] == ""
        created, stopped, _ = await answers("uri-no-json")
        assert not created["uri"].endswith(".json")
        assert created["uri"].endswith(f"/Streams/{created['sid']}")
        created, stopped, p = await answers("sid-not-uuid")
        assert len(created["sid"]) == 32 and "-" not in created["sid"]
        assert stopped["sid"] == created["sid"]  # stop took the 32 hex digits back
        assert p.supervisor.registry.find(
            p.conference, str(uuid.UUID(hex=created["sid"]))
        )
        # The schema itself catches only these two; the rest are the checker's job.
        for defect in ("extra-field", "sid-not-uuid"):
            body, _, _ = await answers(defect)
            with pytest.raises(ValidationError):
                schemas["ConferenceStreamResponse"].validate(body)

    run(main())


def test_accept_ws_url_defect_dials_plain_ws(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with running_platform(
            tls_files, defects=frozenset({"accept-ws-url"})
        ) as p:
            status, body = await p.create({"Url": "ws://127.0.0.1:9/media"})
            assert status == 200
            await p.supervisor.join(body["sid"])
            (record,) = p.sink.rows["platform_streams"]
            assert record[11] == "connect-failed"  # nothing listens there
            status, body = await p.create({"Url": "wss://127.0.0.1:9/me dia"})
            assert status == 400  # every other URL rule still holds

    run(main())


def test_it_dials_only_loopback_and_refuses_the_rest_naming_the_field(
    tls_files: TlsFiles,
) -> None:
    """Issue 13 item 10: no open relay; the refusal is the documented 400 + code."""

    async def main() -> None:
        async with running_platform(tls_files) as p:
            status, body = await p.create({"Url": "wss://10.255.0.1/stream"})
            assert (status, body["code"], body["status"]) == (400, 31922, 400)
            assert body["message"].startswith("Url: ")
            assert "--allow-dial 10.255.0.1:443" in body["message"]
            status, body = await p.create(
                {
                    "Url": "wss://127.0.0.1:9/s",
                    "StatusCallback": "https://192.0.2.1:8443/cb",
                }
            )
            assert (status, body["code"]) == (400, 21402)
            assert body["message"].startswith("StatusCallback: ")
            assert "192.0.2.1:8443" in body["message"]
            assert p.supervisor.registry.total_count == 0  # nothing was dialled

    run(main())


def test_oversized_refusals_name_the_field_the_limit_and_the_fix(
    tls_files: TlsFiles,
) -> None:
    """Issue 13 item 11: a 5,000-digit index and 1,000 form fields."""

    async def main() -> None:
        async with running_platform(tls_files) as p:
            digits = "9" * 5000
            status, body = await p.create(
                {"Url": "wss://127.0.0.1:9/s", f"Parameter{digits}.Name": "n"}
            )
            assert status == 422, body
            (error,) = body["errors"]
            assert error.startswith("Parameter9999...Name: a parameter index of 5000")
            assert "numbered 1 to 99" in error and len(error) < 200
            fields = [("Url", "wss://127.0.0.1:9/s")]
            fields += [(f"X{i}", "v") for i in range(1000)]
            status, body = await p.post(p.streams_url(), fields)
            assert (status, body["status"], body["code"]) == (413, 413, 413)
            assert "Maximum number of form fields 1000 exceeded" in body["message"]
            assert "send fewer or smaller fields" in body["message"]
            assert p.supervisor.registry.total_count == 0

    run(main())
