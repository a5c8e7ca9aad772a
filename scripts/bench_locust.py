"""How many start requests one Locust core fires: StreamUser vs a bare FastHttpUser.

    .venv/bin/python scripts/bench_locust.py [--seconds 10] [--users 20]

One run, two phases against the same trivial endpoint (aiohttp + uvloop on
CPU 1, answering every create with a valid stream JSON, so response checking
takes its passing path):

1. ``StreamUser`` firing starts only: the smoke profile's full matrix (every
   codec, track, 0/1/10/98 parameters short and long, StreamRealTime, bearer
   token, status callback), the correlation parameter, REST response checks,
   and request/rule records written to Parquet, as in a real run;
2. a bare ``FastHttpUser`` posting the same start forms (the smoke matrix in
   the order StreamUser walks it, encoded by :mod:`scenarios.forms` before the
   load) to the same conferences with the same headers, and nothing else: no
   checks, no records (docs/performance.md "Load generator": ~8,400/s here for
   one fixed form).

Locust runs as one process pinned to CPU 0, headless, for ``--seconds`` each;
rates come from Locust's own stats CSV. Every child is ours, bounded by a
timeout and killed by pid. Prints both rates and the ratio.

Each phase also reports its **CPU per start**: the Locust process's CPU clock
(every thread: the record writer's too) over the requests Locust counted,
from 3 s after the test started to the last quarter second users ran
(``PROBE`` below). On
a host whose other tenants take CPU 0 now and then, the rates move with them;
the CPU a start costs moves far less, and ``bare / StreamUser`` of it is the
ratio a quiet host would show while both are CPU-bound (as they are: ~0.95
core each here).

``--tree DIR`` measures another checkout's ``scenarios/`` with this script
(an A/B against a worktree of main, in one invocation, under one lock).

``--interleaved N`` measures the same two in one gevent process instead
(pinned to CPU 0, no Locust runner or TaskSet loop): 20 StreamUsers firing
starts and 20 bare FastHttpUsers posting the same forms take turns, 3,000
requests a turn, N turns each; it prints each one's median CPU a start and
the ratio. The host's other tenants then move both alike (the two phases of a
normal run here drifted by up to 1.5x between runs), so this ratio is the
one to trust on a busy host (docs/performance.md "Locust: where StreamUser's
extra CPU went").
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


ACCOUNT = str(uuid.uuid4())
CONFERENCES = [str(uuid.uuid4()) for _ in range(3)]
TOKEN = "bench-api-token"

ENDPOINT = textwrap.dedent(
    """
    import json, os, sys, uuid
    import uvloop
    from aiohttp import web

    os.sched_setaffinity(0, {1})
    ACCOUNT = sys.argv[1]
    PREFIX = "/api/laml/2010-04-01/Accounts/" + ACCOUNT

    def answer(conference, status, name=None):
        sid = str(uuid.uuid4())
        return json.dumps({
            "account_sid": ACCOUNT, "conference_sid": conference,
            "date_updated": "Mon, 30 Oct 2023 15:35:13 +0000", "name": name,
            "sid": sid, "status": status,
            "uri": f"{PREFIX}/Conferences/{conference}/Streams/{sid}.json",
        }).encode()

    from urllib.parse import unquote_plus

    async def create(request):
        form = await request.read()
        at = form.find(b"&Name=")  # echo the Name, as the contract wants
        name = None
        if at >= 0:
            end = form.find(b"&", at + 6)
            name = unquote_plus(form[at + 6 : end if end >= 0 else None].decode())
        body = answer(request.match_info["conf"], "in-progress", name)
        return web.Response(body=body, content_type="application/json")

    async def stop(request):
        conference = request.match_info["conf"]
        return web.Response(body=answer(conference, "stopped"), content_type="application/json")

    app = web.Application()
    app.router.add_post(PREFIX + "/Conferences/{conf}/Streams", create)
    app.router.add_post(PREFIX + "/Conferences/{conf}/Streams/{sid}", stop)

    async def main():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        await __import__("asyncio").sleep(3600)

    uvloop.run(main())
    """
)

PROBE = textwrap.dedent(
    """
    import json as _json, os as _os, time as _time
    import gevent as _gevent
    from locust import events as _events

    @_events.test_start.add_listener
    def _probe(environment, **_):
        def sample():
            total = environment.stats.total
            return _time.process_time(), total.num_requests, _time.monotonic()

        def window():
            # Locust's run time starts before test_start (a locustfile's init
            # is in it): the window ends at the last sample while users ran
            _gevent.sleep(3.0)
            a = sample()
            while True:
                _gevent.sleep(0.25)
                if environment.runner.state != "running":
                    return
                b = sample()
                with open(_os.environ["BENCH_PROBE"], "w") as f:
                    _json.dump({"cpu_s": b[0] - a[0], "requests": b[1] - a[1],
                                "wall_s": b[2] - a[2]}, f)

        _gevent.spawn(window)
    """
)

FULL = textwrap.dedent(
    """
    from locust import tag, task

    import scenarios.listeners
    import scenarios.users as users


    class StartOnly(users.StreamUser):
        # run with --tags start-only: StreamUser's own task (start, hold, stop)
        # is inherited but left out
        @tag("start-only")
        @task
        def fire(self):
            self.create_stream()

        def wait_time(self):
            return 0.0
    """
)

BARE = textwrap.dedent(
    """
    import base64, os, random
    from locust import FastHttpUser, constant

    from harness.core.secret import Secret
    from harness.io.profile_file import load_profile
    from scenarios.forms import Forms
    from scenarios.matrix import Matrix

    ACCOUNT = os.environ["BENCH_ACCOUNT"]
    CONFERENCES = os.environ["BENCH_CONFERENCES"].split(",")
    # The very bodies StreamUser posts: the smoke matrix walked in its order,
    # encoded by scenarios.forms, built before the load (a bare user builds nothing).
    MATRIX = Matrix(load_profile("smoke").matrix)
    FORMS = Forms(
        run_id="bench", receiver_url="wss://127.0.0.1:9/stream",
        receiver_url_open="wss://127.0.0.1:9/stream",
        callback_url="https://127.0.0.1:9/callbacks",
        bearer_token=Secret(os.environ["STREAMLOAD_BEARER_TOKEN"]),
    )
    BODIES = []
    for i in range(max(MATRIX.cycle, 1000)):
        combo = MATRIX.combo(i)
        name = f"sl-bare-{i}" if combo.stop_by == "name" else None
        BODIES.append(FORMS.start(combo, f"bare-{i}", name)[0])
    PATHS = [f"/Accounts/{ACCOUNT}/Conferences/{c}/Streams" for c in CONFERENCES]
    BASIC = base64.b64encode(f"{ACCOUNT}:bench-api-token".encode()).decode()
    HEADERS = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "Authorization": f"Basic {BASIC}",
    }


    class Bare(FastHttpUser):
        wait_time = constant(0)
        i = 0

        def post(self):
            self.i += 1
            self.client.post(
                random.choice(PATHS), data=BODIES[self.i % len(BODIES)],
                headers=HEADERS, name="create_stream",
            )

        tasks = [post]
    """
)

INTERLEAVED = textwrap.dedent(
    """
    import base64, json, os, random, sys, tempfile, time
    from gevent import monkey
    monkey.patch_all()
    import gevent
    from types import SimpleNamespace
    from locust.contrib.fasthttp import FastHttpUser
    from locust.env import Environment
    import scenarios.users as users
    from harness.io import runtime
    from scenarios.context import context_from_options

    host, rounds = sys.argv[1], int(sys.argv[2])
    account, conferences = os.environ["BENCH_ACCOUNT"], os.environ["BENCH_CONFERENCES"]
    run_dir = tempfile.mkdtemp(prefix="bench-interleaved-")
    options = SimpleNamespace(
        sl_profile="smoke", sl_run_dir=run_dir, sl_run_id="bench", sl_account_sid=account,
        sl_receiver_url="wss://127.0.0.1:9/stream", sl_receiver_url_open="",
        sl_callback_url="https://127.0.0.1:9/callbacks", sl_conferences=conferences,
        sl_workers="1", run_time=None,
    )
    ctx = context_from_options(options, record=True)
    ctx.prepare()
    runtime.settle()  # as scenarios.listeners does in a Locust process

    class Full(users.StreamUser):
        host = sys.argv[1]

    class Bare(FastHttpUser):
        host = sys.argv[1]

    env = Environment(user_classes=[Full, Bare])
    env.create_local_runner()
    env.streamload = ctx
    bodies = []
    for i in range(ctx.matrix.cycle):  # the very forms, built before (as BARE)
        combo = ctx.matrix.combo(i)
        name = f"sl-bare-{i}" if combo.stop_by == "name" else None
        bodies.append(ctx.forms.start(combo, f"bare-{i}", name)[0])
    paths = [f"/Accounts/{account}/Conferences/{c}/Streams" for c in ctx.conferences]
    basic = base64.b64encode(f"{account}:{os.environ['SIGNALWIRE_API_TOKEN']}".encode())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        "Authorization": "Basic " + basic.decode(),
    }

    def full(user, n):
        for _ in range(n):
            user.create_stream()

    def bare(user, n):
        for _ in range(n):
            user.i = getattr(user, "i", 0) + 1  # the forms in turn, as BARE
            user.client.post(random.choice(paths), data=bodies[user.i % len(bodies)],
                             headers=headers, name="create_stream")

    groups = {"StreamUser": (full, [Full(env) for _ in range(20)]),
              "bare FastHttpUser": (bare, [Bare(env) for _ in range(20)])}
    for user in groups["StreamUser"][1]:
        user.on_start()

    def flush_forever():
        while True:
            gevent.sleep(1.0)
            ctx.sink.hand_off()

    flusher = gevent.spawn(flush_forever)
    cpu = {name: [] for name in groups}
    for turn in range(2 * rounds):
        name = list(groups)[turn % 2 if turn // 2 % 2 == 0 else 1 - turn % 2]
        fn, group = groups[name]
        started, before = time.process_time(), env.stats.total.num_requests
        gevent.joinall([gevent.spawn(fn, user, 150) for user in group])
        done = env.stats.total.num_requests - before
        cpu[name].append(1e6 * (time.process_time() - started) / done)
    flusher.kill()
    ctx.sink.close()
    __import__("shutil").rmtree(run_dir, ignore_errors=True)
    print(json.dumps({"cpu_us": cpu, "failures": env.stats.total.num_failures}))
    """
)


def interleaved(host: str, rounds: int, tree: Path) -> int:
    """Both users in one process, taking turns: (median CPU a start) each, and the ratio."""
    env = {
        **os.environ,
        "SIGNALWIRE_API_TOKEN": TOKEN,
        "STREAMLOAD_BEARER_TOKEN": "bench-bearer-token",
        "BENCH_ACCOUNT": ACCOUNT,
        "BENCH_CONFERENCES": ",".join(CONFERENCES),
        "PYTHONPATH": str(tree),
    }
    proc = subprocess.run(
        [sys.executable, "-c", INTERLEAVED, host, str(rounds)],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
        timeout=60 + 20 * rounds, preexec_fn=_pin_cpu0, cwd=tree,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"the interleaved run failed: {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    medians = {}
    for name, values in result["cpu_us"].items():
        ordered = sorted(values)
        medians[name] = ordered[len(ordered) // 2]
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name}: median {medians[name]:.0f} µs CPU a start (turns: {shown})")
    if result["failures"]:
        print(f"  warning: {result['failures']} failed requests", file=sys.stderr)
    full, bare = medians["StreamUser"], medians["bare FastHttpUser"]
    print(f"ratio of CPU a start, bare / StreamUser: {bare / full:.2f}")
    return 0


def _pin_cpu0() -> None:
    os.sched_setaffinity(0, {0})


def run_locust(
    locustfile: Path,
    host: str,
    users: int,
    seconds: int,
    out: Path,
    extra: list[str],
    tree: Path = ROOT,
) -> tuple[float, float]:
    """Run one headless Locust phase: (create_stream requests/s, CPU µs a request)."""
    prefix = out / "stats"
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", host, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--stop-timeout", "2", "--only-summary",
        "--loglevel", "ERROR", "--exit-code-on-error", "0", "--csv", str(prefix), *extra,
    ]  # fmt: skip
    env = {
        **os.environ,
        "SIGNALWIRE_API_TOKEN": TOKEN,
        "STREAMLOAD_BEARER_TOKEN": "bench-bearer-token",
        "BENCH_ACCOUNT": ACCOUNT,
        "BENCH_CONFERENCES": ",".join(CONFERENCES),
        "BENCH_PROBE": str(out / "probe.json"),
        # and cwd=tree: ``python -m``/``-c`` put the working directory ahead
        # of PYTHONPATH, so from this checkout --tree used to measure this one
        "PYTHONPATH": str(tree),
    }
    with (out / "locust.log").open("wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
            preexec_fn=_pin_cpu0, cwd=tree,
        )  # fmt: skip
        try:
            proc.wait(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise SystemExit(
                f"locust did not finish; see {out / 'locust.log'}"
            ) from None
    with (prefix.parent / f"{prefix.name}_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "create_stream":
                failures = int(row["Failure Count"])
                if failures:
                    print(f"  warning: {failures} failed requests", file=sys.stderr)
                return float(row["Requests/s"]), _cpu_us(out / "probe.json")
    raise SystemExit(f"no create_stream row in the stats; see {out / 'locust.log'}")


def _cpu_us(probe_file: Path) -> float:
    """CPU µs a start from the phase's probe; NaN (and a warning) without one.

    The probe writes once users have run 3 s past the test's start: a phase
    whose users ran less (a short ``--seconds`` on a busy host, where Locust's
    start-up eats the time) has no CPU window, but its rate still stands.
    """
    try:
        probe = json.loads(probe_file.read_text())
    except FileNotFoundError:
        print(
            "  warning: no CPU window (users ran under 3 s): use a longer --seconds",
            file=sys.stderr,
        )
        return float("nan")
    return 1e6 * float(probe["cpu_s"]) / max(int(probe["requests"]), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each phase")
    parser.add_argument("--users", type=int, default=20, help="Locust users per phase")
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="checkout whose scenarios/ and harness/ to measure (default: this one)",
    )
    parser.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="N",
        help="instead: both users in one process, N turns each (see above)",
    )
    args = parser.parse_args()
    if not 0 <= args.interleaved <= 50:
        print("bench: keep --interleaved in 0..50", file=sys.stderr)
        return 2
    if not 5 <= args.seconds <= 60 or not 1 <= args.users <= 200:
        print("bench: keep --seconds in 5..60 and --users in 1..200", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-locust-") as tmp:
        root = Path(os.environ.get("BENCH_KEEP", tmp))
        (root / "full.py").write_text(FULL + PROBE)
        (root / "bare.py").write_text(BARE + PROBE)
        endpoint = subprocess.Popen(
            [sys.executable, "-c", ENDPOINT, ACCOUNT],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        try:
            assert endpoint.stdout is not None
            line = endpoint.stdout.readline()  # bounded: the child prints or dies
            if not line:
                raise SystemExit("the endpoint did not start")
            host = f"http://127.0.0.1:{json.loads(line)['port']}/api/laml/2010-04-01"
            if args.interleaved:
                return interleaved(host, args.interleaved, args.tree)
            results = {}
            for name, locustfile, extra in (
                (
                    "StreamUser (full matrix, checks, records)",
                    root / "full.py",
                    [
                        "--sl-profile", "smoke", "--sl-run-dir", str(root / "run"),
                        "--sl-account-sid", ACCOUNT, "--sl-conferences", ",".join(CONFERENCES),
                        "--sl-receiver-url", "wss://127.0.0.1:9/stream",
                        "--sl-callback-url", "https://127.0.0.1:9/callbacks",
                        "--tags", "start-only",
                    ],
                ),
                ("bare FastHttpUser (same endpoint)", root / "bare.py", []),
            ):  # fmt: skip
                phase = root / locustfile.stem
                phase.mkdir()
                started = time.monotonic()
                rate, cpu_us = run_locust(
                    locustfile, host, args.users, args.seconds, phase, extra, args.tree
                )
                results[name] = (rate, cpu_us)
                print(
                    f"{name}: {rate:,.0f} start requests/s, {cpu_us:.0f} µs CPU a start"
                    f" ({time.monotonic() - started:.0f} s)"
                )
        finally:
            endpoint.send_signal(signal.SIGKILL)
            endpoint.wait(10)
    (full, full_cpu), (bare, bare_cpu) = results.values()
    print(f"ratio StreamUser / bare: {full / bare:.2f}")
    print(f"ratio of CPU a start, bare / StreamUser: {bare_cpu / full_cpu:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
