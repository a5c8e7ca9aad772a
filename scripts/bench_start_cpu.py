"""CPU a start of StreamUser's own code: ``create_stream`` with a canned answer, no HTTP.

    .venv/bin/python scripts/bench_start_cpu.py [--tree DIR] [--starts 30000]

The real ``StreamUser.create_stream`` of ``--tree``'s ``scenarios/`` (default:
this checkout; another worktree for an A/B) runs against a client that answers
every create at once with a valid stream JSON, as ``scripts/bench_locust.py``'s
endpoint does: the smoke matrix, forms, budget, REST response checks and
``requests``/``rule_checks`` records flushed every 3,000 starts (~1 s of a
busy Locust process), with the collector settings the tree's Locust process
applies (``runtime.settle()`` in its ``scenarios/listeners.py``, or none). What
is measured: the process's CPU clock per start (every thread: a record writer's
too) and the users' thread's alone, less the canned client's own cost, timed
apart. Pinned to CPU 0. ``scripts/bench_locust.py`` gives the same code's cost
end to end, where the host's other tenants move it far more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
FLUSH_EVERY = 3_000


class _Answer:
    """A Locust response context manager that passes every check."""

    status_code = 200
    headers = {"Content-Type": "application/json; charset=utf-8"}
    error = None
    text = ""

    def __init__(self, body: bytes) -> None:
        self.content = body

    def failure(self, error: str) -> None:
        raise SystemExit(f"a check failed: {error}")

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *_: object) -> None:
        return None


class _Client:
    """Answers a create as the benchmark endpoint does (Name echoed, a fresh sid)."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.prefix = f"/api/laml/2010-04-01/Accounts/{account}"

    def post(self, path: str, data: str, **_: Any) -> _Answer:
        conference = path.split("/Conferences/")[1].split("/")[0]
        at, name = data.find("&Name="), None
        if at >= 0:
            end = data.find("&", at + 6)
            name = data[at + 6 : end if end >= 0 else None]
        sid = str(uuid.uuid4())
        uri = f"{self.prefix}/Conferences/{conference}/Streams/{sid}.json"
        doc = {
            "account_sid": self.account, "conference_sid": conference,
            "date_updated": "Mon, 30 Oct 2023 15:35:13 +0000", "name": name,
            "sid": sid, "status": "in-progress", "uri": uri,
        }  # fmt: skip
        return _Answer(json.dumps(doc).encode())


class _Rest:
    """A :class:`scenarios.rest.RestPoster` stand-in: ``_Client``'s answer as a Reply.

    ``report`` fires nothing, as ``_Answer`` (the with-block of older trees) did not.
    """

    def __init__(self, client: _Client) -> None:
        self.client = client

    def post(self, path: str, body: str, name: str) -> Any:
        from scenarios.rest import Reply

        answer = self.client.post(path, body)
        reply = Reply(name, path, 0.0)
        reply.status, reply.content = answer.status_code, answer.content
        reply.response = answer  # type: ignore[assignment]  # headers is all it reads
        return reply

    def report(self, reply: Any, failure: str | None) -> None:
        if failure is not None:
            raise SystemExit(f"a check failed: {failure}")


def _user(run_dir: Path) -> tuple[Any, Any]:
    """A StreamUser of the tree under test, on the bench's options, and its context."""
    from locust.env import Environment

    import scenarios.users as users
    from scenarios.context import context_from_options

    account, conferences = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(3)]
    options = SimpleNamespace(
        sl_profile="smoke", sl_run_dir=str(run_dir), sl_run_id="adhoc",
        sl_account_sid=account, sl_receiver_url="wss://127.0.0.1:9/stream",
        sl_receiver_url_open="", sl_callback_url="https://127.0.0.1:9/callbacks",
        sl_conferences=",".join(conferences), sl_workers="1", run_time=None,
    )  # fmt: skip
    ctx = context_from_options(options, record=True)
    ctx.prepare()

    class User(users.StreamUser):
        host = "http://127.0.0.1:9"

    environment = Environment(user_classes=[User])
    environment.streamload = ctx  # type: ignore[attr-defined]
    user: Any = User(environment)
    user.on_start()  # a tree with scenarios/rest.py makes its poster from the session
    user.client = _Client(account)
    if hasattr(user, "_rest"):
        user._rest = _Rest(user.client)
    return user, ctx


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--starts", type=int, default=30_000, help="starts timed")
    args = parser.parse_args()
    if not 3_000 <= args.starts <= 300_000:
        print("bench: keep --starts in 3000..300000", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.tree.resolve()))
    os.sched_setaffinity(0, {0})
    os.environ.setdefault("SIGNALWIRE_API_TOKEN", "bench-api-token")
    os.environ.setdefault("STREAMLOAD_BEARER_TOKEN", "bench-bearer-token")
    from harness.io import runtime

    with tempfile.TemporaryDirectory(prefix="bench-start-cpu-") as tmp:
        user, ctx = _user(Path(tmp))
        if "runtime.settle()" in (args.tree / "scenarios" / "listeners.py").read_text():
            runtime.settle()  # the tree's Locust process does: so does its measure
        for _ in range(2_000):  # warm: every cell's form, the first flush
            user.create_stream()
        ctx.sink.flush()
        started = time.process_time_ns()
        for _ in range(args.starts):
            user.client.post(f"/Conferences/{ctx.conferences[0]}/Streams", "a=b")
        client_ns = (time.process_time_ns() - started) / args.starts
        process, thread = time.process_time_ns(), time.thread_time_ns()
        for i in range(args.starts):
            user.create_stream()
            if i % FLUSH_EVERY == FLUSH_EVERY - 1:
                ctx.sink.flush()
        ctx.sink.flush()
        every = (time.process_time_ns() - process) / args.starts - client_ns
        users = (time.thread_time_ns() - thread) / args.starts - client_ns
    print(
        f"{args.tree}: {every / 1000:.1f} µs CPU a start (every thread), "
        f"{users / 1000:.1f} µs on the users' thread"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
