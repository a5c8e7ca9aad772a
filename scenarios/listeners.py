"""Locust hooks: streamload's options, the per-process context and record flushing.

State lives on the environment (``environment.streamload``), never in this
module, so several environments (tests, library use) cannot share it.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from typing import Any

import gevent
import gevent.ssl
from locust import events
from locust.runners import MasterRunner

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_USAGE
from harness.io import runtime
from scenarios.context import context_from_options
from scenarios.records import ScenarioRecords
from scenarios.users import StreamUser


__all__: list[str] = []

_FLUSH_EVERY_S = 1.0


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    # parser.add_argument (not a group's) is what puts an option in the web UI
    add = parser.add_argument
    add(
        "--sl-profile",
        default="",
        env_var="STREAMLOAD_PROFILE",
        help="built-in profile (default, smoke, nightly, capacity, codec-compare), "
        "a .toml file, or a run's profile.json",
    )
    add("--sl-run-dir", default="", help="run directory for records")
    add(
        "--sl-run-id",
        default="adhoc",
        help="run id carried in every stream's correlation parameter",
    )
    add(
        "--sl-account-sid",
        default="",
        env_var="SIGNALWIRE_PROJECT_ID",
        help="AccountSid (Project ID); the API token comes from SIGNALWIRE_API_TOKEN",
    )
    add("--sl-receiver-url", default="", help="public wss:// URL of the receivers")
    add(
        "--sl-receiver-url-open",
        default="",
        help="wss:// URL for requests without a bearer token (default: --sl-receiver-url)",
    )
    add(
        "--sl-callback-url", default="", help="https:// URL of the status-callback sink"
    )
    add("--sl-ca-file", default="", help="CA certificate to trust for the platform")
    add(
        "--sl-conferences",
        default="",
        help="comma-separated conference sids (default: discover)",
    )
    add(
        "--sl-workers",
        default="1",
        help="Locust processes sharing the open model's --sl-rate (each takes 1/N)",
    )
    for flag, what in (
        ("codecs", "StreamCodec values, e.g. PCMU,L16@16000h"),
        ("tracks", "Track values"),
        ("params", "custom parameter counts, 0 to 98"),
        ("param-size", "short, long or short,long"),
        ("real-time", "StreamRealTime: omit, true, false"),
        ("bearer-token", "send AuthorizationBearerToken: on, off"),
        ("status-callback", "send StatusCallback: off, on"),
        ("stop-by", "stop streams by sid, name or both"),
        ("hold", "seconds to hold each stream, N or MIN-MAX"),
        ("wait", "closed model: seconds between a stop and the next start"),
        ("rate", "open model: stream starts per second (all processes together)"),
    ):
        add(f"--sl-{flag}", default="", help=f"{what} (default: from the profile)")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:
        return
    record = not isinstance(environment.runner, MasterRunner)
    try:
        ctx = context_from_options(options, record=record)
    except ConfigError as exc:
        print(f"streamload: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    environment.streamload = ctx
    if record:  # a master starts no stream
        ctx.prepare()  # before the run's clock starts
        # the collector's thresholds and the GIL's switch interval of every
        # producer (harness/io/runtime.py): at Python's default (700) a young
        # pass came every ~40 starts, walking the rows not yet written
        runtime.settle()
        # gevent's loop caches "now" (libev) and has not run during this init:
        # Locust arms --run-time right after it, from that stale time, so a run
        # ended early by as long as the init took (2-3 s of a 3 s run on a busy
        # host, where the forms' encoding is slow); refresh it
        gevent.get_hub().loop.update_now()
    if options.sl_ca_file:
        ca_file = options.sl_ca_file
        StreamUser.ssl_context_factory = staticmethod(
            lambda: gevent.ssl.create_default_context(cafile=ca_file)
        )
    if ctx.sink is not None:
        gevent.spawn(_flush_forever, ctx.sink)


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    """Re-read the options: the web UI may have changed them since start-up.

    The sink, the producer name and the request counter carry over, so request
    ids stay unique across the tests of one process.
    """
    old = getattr(environment, "streamload", None)
    options = environment.parsed_options
    if old is None or options is None:
        return
    try:
        fresh = context_from_options(options, record=False)
    except ConfigError as exc:
        logging.error("streamload: %s", exc)
        if environment.runner is not None:
            environment.runner.quit()
        return
    # the cells encoded at init are kept when they still hold: encoding them
    # here would eat into the run's time (this runs inside the timed start)
    forms = old.forms if fresh.forms.same_as(old.forms) else fresh.forms
    environment.streamload = dataclasses.replace(
        fresh,
        sink=old.sink,
        producer=old.producer,
        _requests=old._requests,
        forms=forms,
    )
    pacer = environment.streamload.pacer
    if pacer is not None:
        pacer.begin(time.monotonic_ns())


def _flush_forever(sink: ScenarioRecords) -> None:
    """Hand the rows to the writer thread once a second; never waits for it."""
    while True:
        gevent.sleep(_FLUSH_EVERY_S)
        sink.hand_off()


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    _flush(environment)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    ctx = getattr(environment, "streamload", None)
    if ctx is not None and ctx.sink is not None:
        # rows whose write failed (disk full) are counted in the sink: its
        # manifest says so
        ctx.sink.close()


def _flush(environment: Any) -> None:
    ctx = getattr(environment, "streamload", None)
    if ctx is not None and ctx.sink is not None:
        ctx.sink.flush()
