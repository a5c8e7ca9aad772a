"""streamload against a platform it did not write (``python -m tests.independent``).

The receivers and checker share their core with the reference platform, so a
misreading of the contract could hide in both. Here ``streamload run --target``
judges the second, independently written platform: clean, it must pass with
every rule the run can check checked; with each ``--defect``, the run must fail
and name the rule the defect breaks. Each run is the real CLI (platform,
receivers with a ``trustme`` certificate the platform trusts, callback sink,
Locust, report), shortened to ``--duration 3s``.

Known gaps of the harness (issue 10, fixed elsewhere) are strict xfails with
their reason, so the day one is fixed the test says so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import trustme

from reports.join import joined_checks
from reports.load import load_run
from tests.conftest import REPO, seconds
from tests.e2e.runs import ready_line
from tests.independent.contract import DEFECTS, GLOBAL_DEFECTS


pytestmark = pytest.mark.e2e

ROOT = REPO
PROJECT = str(uuid.uuid4())
API_TOKEN = "indie-api-token-Rf6Yc2"
BEARER = "indie-bearer-token-Gd9Ls4"
SIGNING_KEY = "indie-signing-key-Mb1Xq7"
SECRETS = (API_TOKEN, BEARER, SIGNING_KEY)
PARALLEL: Final = int(os.environ.get("STREAMLOAD_INDEPENDENT_PARALLEL", "3"))
"""Defect runs at once (the clean run always runs alone: it is timed)."""
GROUP: Final = int(os.environ.get("STREAMLOAD_INDEPENDENT_GROUP", "6"))
"""Defects per run (``1``: one run per defect, the slow, fully isolated way).

Several defects share a platform with ``--spread``: each stream shows one
defect (or none), and every failing rule check is tied back to its defect by
stream sid or request id, so a defect must fail exactly its rules on its own
streams, and the streams without a defect must pass."""


XFAIL: Final[dict[str, str]] = {}
"""Defects the harness does not catch yet, and why (none today)."""

ALSO: Final[dict[str, dict[str, str]]] = {
    # a 1.5x clock is off by more than WS-MEDIA-005's 60 ms too (the warning)
    "timestamp-fast": {"WS-MEDIA-005": "the warning on the same timestamps"},
    # (create-201 and stop-by-name-404 leave streams running until the run's
    # drain ends and the receivers close them: WS-STOP-001 is then not checked
    # for them, where it once blamed the platform for the receiver's own close)
    #
    # finding: after a second start the checker expects sequenceNumber "1" again
    # (evidence: expected 1, actual 2), so one breach fails two rules
    "start-twice": {"WS-SEQ-001": "the second start is expected to restart at 1"},
}
"""Rules a defect's streams may fail besides its own, and why."""

NOT_CHECKED_CLEAN: Final[dict[str, str]] = {
    # nothing to compare: the SignalWire dialect sends no top-level streamSid
    "WS-SID-001": "SignalWire examples carry no top-level streamSid",
    "WS-DIALECT-002": "a Twilio-dialect rule; this platform speaks SignalWire's",
}
"""Rules a clean run leaves ``not-checked``, and why (every other one must be checked)."""


@dataclass(frozen=True)
class Run:
    out: Path
    returncode: int
    stdout: str
    stderr: str
    platform_log: str
    assignments: tuple[dict[str, Any], ...] = ()
    """One line per stream the platform made: sid, defects, last parameter."""

    @property
    def summary(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.out / "summary.json").read_text())
        return doc

    def verdicts(self) -> dict[str, str]:
        return {
            rule: str(result["verdict"])
            for rule, result in self.summary["conformance"]["results"].items()
        }


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The receivers' certificate, from a CA the independent platform is told to trust."""
    root = tmp_path_factory.mktemp("indie-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": root / "ca.pem", "cert": root / "cert.pem", "key": root / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    for blob in leaf.cert_chain_pems[1:]:
        blob.write_to_path(str(files["cert"]), append=True)
    return files


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "SIGNALWIRE_PROJECT_ID": PROJECT,
        "SIGNALWIRE_API_TOKEN": API_TOKEN,
        "SIGNALWIRE_SIGNING_KEY": SIGNING_KEY,
        "STREAMLOAD_BEARER_TOKEN": BEARER,
    }


def run_against(
    root: Path,
    certs: dict[str, Path],
    defects: tuple[str, ...] = (),
    *extra: str,
) -> Run:
    """Start the independent platform, run ``streamload run`` against it, stop it."""
    name = (
        ("group-" + defects[0] if len(defects) > 1 else defects[0])
        if defects
        else "clean"
    )
    out = root / name
    platform_log = root / f"{name}.platform.log"
    assignments = root / f"{name}.assignments.jsonl"
    argv = [
        sys.executable, "-m", "tests.independent", "--ca-file", str(certs["ca"]),
        "--max-duration", "150", "--max-stream-duration", "30",
        "--assignments", str(assignments),
    ]  # fmt: skip
    for defect in defects:
        argv += ["--defect", defect]
    if len(defects) > 1:
        argv.append("--spread")
    with platform_log.open("w") as log:
        platform = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            ready = ready_line(platform, seconds(30), event=None)
            assert ready["account_sid"] == PROJECT and ready["conferences"]
            proc = subprocess.run(
                [
                    sys.executable, "-m", "harness.run.cli", "run", "--profile", "smoke",
                    "--duration", "3s", "--target", str(ready["url"]),
                    "--receiver-cert", str(certs["cert"]),
                    "--receiver-key", str(certs["key"]), "--out", str(out), *extra,
                ],
                capture_output=True,
                text=True,
                timeout=seconds(150),
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env=_env(),
            )  # fmt: skip
        finally:
            platform.send_signal(signal.SIGTERM)
            try:
                code = platform.wait(seconds(20))
            except subprocess.TimeoutExpired:
                platform.kill()
                code = platform.wait(seconds(10))
            if platform.stdout is not None:
                platform.stdout.close()
    assert code == 0, platform_log.read_text()[-2000:]
    lines = assignments.read_text().splitlines() if assignments.exists() else []
    return Run(
        out,
        proc.returncode,
        proc.stdout,
        proc.stderr,
        platform_log.read_text(),
        tuple(json.loads(line) for line in lines),
    )


def _no_secrets(run: Run) -> None:
    assert not any(s in run.stdout + run.stderr + run.platform_log for s in SECRETS)
    for path in run.out.rglob("*"):
        if path.is_file() and path.suffix in (
            ".json",
            ".md",
            ".html",
            ".xml",
            ".log",
            ".parquet",
        ):
            data = path.read_bytes()
            assert not any(s.encode() in data for s in SECRETS), path


def _groups(names: list[str]) -> list[tuple[str, ...]]:
    """Defects to run together: about GROUP per run, at most one platform-wide one each.

    A platform-wide defect (its refusals) cannot be told apart by stream, so
    failures on subjects no stream owns go to the group's one such defect.
    """
    if GROUP <= 1:
        return [(name,) for name in names]
    count = max(-(-len(names) // GROUP), sum(1 for n in names if n in GLOBAL_DEFECTS))
    groups: list[list[str]] = [[] for _ in range(count)]
    globals_ = [n for n in names if n in GLOBAL_DEFECTS]
    for i, name in enumerate(globals_):
        groups[i].append(name)
    for name in names:
        if name not in GLOBAL_DEFECTS:
            min(groups, key=len).append(name)
    return [tuple(g) for g in groups if g]


def _selected_defects(request: pytest.FixtureRequest) -> list[str]:
    """The defects of the tests pytest will run (``-k`` picks only those runs)."""
    names = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if (
            getattr(item, "originalname", None)
            == "test_each_defect_fails_exactly_its_rule"
            and callspec is not None
        ):
            defect = callspec.params.get("defect")
            if defect is not None and defect not in names:
                names.append(defect)
    return names


def _table(run: Run, name: str) -> list[dict[str, Any]]:
    parts = sorted((run.out / "records" / name).glob("*.parquet"))
    if not parts:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables(
        [pq.read_table(p) for p in parts]
    ).to_pylist()
    return rows


@dataclass(frozen=True)
class Attributed:
    """One run of several defects, its failures tied back to the defect that caused them."""

    run: Run
    defects: tuple[str, ...]
    streams: dict[str, int]
    """Streams each defect was given (``clean``: none)."""
    failed: dict[str, dict[str, list[str]]]
    """owner -> rule -> failing subjects; owners are defects, ``clean`` or ``unowned``."""


def _attribute(run: Run, defects: tuple[str, ...]) -> Attributed:
    owner: dict[str, str] = {}
    streams: dict[str, int] = {}
    for line in run.assignments:
        name = line["defects"][0] if line["defects"] else "clean"
        streams[name] = streams.get(name, 0) + 1
        owner[line["sid"]] = name
        last = line.get("last_parameter") or ["", ""]
        fields = dict(part.partition("=")[::2] for part in str(last[1]).split(";"))
        if fields.get("req"):
            owner[fields["req"]] = name
    for row in _table(run, "requests"):  # stop requests: by the stream they stop
        if row["stream_sid"] in owner:
            owner.setdefault(str(row["request_id"]), owner[row["stream_sid"]])
    for row in _table(run, "streams"):  # a start.streamSid unlike the answer's sid
        if row["request_id"] in owner:
            owner.setdefault(str(row["stream_sid"]), owner[row["request_id"]])
    platform_wide = [d for d in defects if d in GLOBAL_DEFECTS]
    failed: dict[str, dict[str, list[str]]] = {}
    # the rule checks as the report judges them: with the join by sid's
    # verdicts (WS-START-*) in place of the receiver's
    rule_checks, _ = joined_checks(load_run(run.out))
    for check in rule_checks.to_dict("records"):
        if not int(check["failures"]):
            continue
        subject = str(check["subject"])
        who = owner.get(subject)
        if who is None and subject == "handshake" and "bearer-missing" in defects:
            who = "bearer-missing"  # refused upgrades have no stream sid yet
        if who is None and subject.startswith("conform:"):
            # the negative suite's valid streams: spread gives them defects too,
            # and their subjects name the case, not the request
            who = "negative-suite"
        if who is None:
            who = platform_wide[0] if platform_wide else "unowned"
        failed.setdefault(who, {}).setdefault(str(check["rule"]), []).append(subject)
    return Attributed(run, defects, streams, failed)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory, certs: dict[str, Path]) -> Run:
    """Alone (no defect run beside it): its timing gates must hold."""
    return run_against(tmp_path_factory.mktemp("indie"), certs)


@pytest.fixture(scope="module")
def defect_runs(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    certs: dict[str, Path],
) -> dict[str, Attributed]:
    """Every selected defect's run (grouped, see :data:`GROUP`), by defect."""
    root = tmp_path_factory.mktemp("indie-defects")
    groups = _groups(_selected_defects(request))

    def one(group: tuple[str, ...]) -> Attributed:
        extra = ("--users", "8", "--duration", "4s") if len(group) > 1 else ()
        return _attribute(run_against(root, certs, group, *extra), group)

    with ThreadPoolExecutor(max_workers=max(1, PARALLEL)) as pool:
        done = list(pool.map(one, groups))
    return {name: runs for runs in done for name in runs.defects}


def test_the_clean_run_passes(clean_run: Run) -> None:
    assert clean_run.returncode == 0, clean_run.stderr[-3000:]
    assert clean_run.summary["verdict"] == "pass"


def test_the_clean_platform_conforms(clean_run: Run) -> None:
    run = clean_run
    doc = run.summary
    broken = [g for g in doc["thresholds"] if g["result"] == "fail"]
    assert broken == [], broken
    verdicts = run.verdicts()
    failed = {rule for rule, v in verdicts.items() if v == "fail"}
    assert failed == set()
    not_checked = {rule for rule, v in verdicts.items() if v == "not-checked"}
    assert not_checked == set(NOT_CHECKED_CLEAN), (
        "every rule but the explained ones is checked"
    )
    assert doc["accounting"]["streams_received"] >= 4, doc["accounting"]
    _no_secrets(run)


def _params() -> list[Any]:
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.xfail(strict=True, reason=XFAIL[name])]
            if name in XFAIL
            else [],
        )
        for name in DEFECTS
    ]


@pytest.mark.timeout(900)  # the first one waits for every defect run
@pytest.mark.parametrize("defect", _params())
def test_each_defect_fails_exactly_its_rule(
    defect: str, defect_runs: dict[str, Attributed]
) -> None:
    runs = defect_runs[defect]
    run = runs.run
    rules = set(DEFECTS[defect].rules)
    if defect not in GLOBAL_DEFECTS:
        assert runs.streams.get(defect, 0) > 0, (
            f"no stream could show it: {runs.streams}"
        )
    verdicts = run.verdicts()
    mine = runs.failed.get(defect, {})
    assert set(mine) - set(ALSO.get(defect, {})) == rules, (
        f"{defect} (run {'+'.join(runs.defects)}, exit {run.returncode}): its streams "
        f"failed {sorted(mine)}; summary verdicts "
        f"{ {r: verdicts.get(r) for r in sorted(rules)} }"
    )
    assert run.returncode == 1
    assert run.summary["verdict"] == "fail"
    assert all(verdicts[r] == "fail" for r in rules)
    report = (run.out / "report.md").read_text()
    assert all(rule in report for rule in rules)
    _no_secrets(run)


def test_streams_without_a_defect_pass_in_every_defect_run(
    defect_runs: dict[str, Attributed],
) -> None:
    """No false alarm on the clean streams of a defective run, and nothing unexplained."""
    seen = {id(r): r for r in defect_runs.values()}.values()
    bad = {
        "+".join(r.defects): {
            k: r.failed[k] for k in ("clean", "unowned") if k in r.failed
        }
        for r in seen
        if "clean" in r.failed or "unowned" in r.failed
    }
    assert bad == {}
    # the negative suite's own streams may fail only what the group's defects break
    for r in seen:
        allowed = {
            rule for d in r.defects for rule in (*DEFECTS[d].rules, *ALSO.get(d, {}))
        }
        assert set(r.failed.get("negative-suite", {})) <= allowed, r.defects


@pytest.mark.parametrize(
    ("defect", "rule"),
    [
        ("", ""),
        ("accept-ws-url", "REST-REJECT-001"),
        ("error-shape-404", "REST-ERROR-001"),
    ],
    ids=["clean", "accept-ws-url", "error-shape-404"],
)
def test_the_negative_suite_alone_judges_the_refusals(
    defect: str, rule: str, certs: dict[str, Path], tmp_path: Path
) -> None:
    """``python -m harness.conform`` straight at the platform, over https.

    The run skips the negative suite (issue 10), and when it does start it,
    ``harness.conform`` refuses an http:// base URL that ``run --target``
    accepts on loopback; so the refusals are judged here, the platform serving
    https with the receivers' certificate.
    """
    argv = [
        sys.executable, "-m", "tests.independent", "--ca-file", str(certs["ca"]),
        "--cert-file", str(certs["cert"]), "--key-file", str(certs["key"]),
        "--max-duration", "60", "--max-stream-duration", "10",
    ]  # fmt: skip
    if defect:
        argv += ["--defect", defect]
    log = tmp_path / "platform.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            argv,
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
        ) as platform,
    ):
        try:
            ready = ready_line(platform, seconds(30), event=None)
            assert str(ready["api_base"]).startswith("https://")
            proc = subprocess.run(
                [
                    sys.executable, "-m", "harness.conform", "--url", str(ready["api_base"]),
                    "--account-sid", PROJECT, "--conference", str(ready["conferences"][0]),
                    "--ca-file", str(certs["ca"]), "--hold", "0.5",
                    "--run-dir", str(tmp_path / "conform"),
                ],
                capture_output=True,
                text=True,
                timeout=seconds(90),
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env=_env(),
            )  # fmt: skip
        finally:
            platform.send_signal(signal.SIGTERM)
            assert platform.wait(seconds(20)) == 0, log.read_text()[-2000:]
    failed = {
        line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FAIL ")
    }
    assert "PASS REST-REJECT-001" in proc.stdout or rule == "REST-REJECT-001"
    assert failed == ({rule} if rule else set()), proc.stdout[-3000:]
    assert proc.returncode == (1 if rule else 0), proc.stderr[-2000:]
    assert not any(secret in proc.stdout + proc.stderr for secret in SECRETS)


def test_streams_left_running_are_closed_by_the_receivers_and_said_so(
    defect_runs: dict[str, Attributed],
) -> None:
    """create-201's streams are never stopped by the client (a 201 is no start to
    it): they run into the drain, the receivers close them, and ``run.json``
    says their WS-STOP-001 was not checked (it is not the platform's defect)."""
    run = defect_runs["create-201"].run
    events = json.loads((run.out / "run.json").read_text())["events"]
    left = [
        e
        for e in events
        if e["kind"] == "warning" and "WS-STOP-001 not checked" in e["what"]
    ]
    assert left, [e["what"] for e in events]
    assert "WS-STOP-001" not in defect_runs["create-201"].failed.get("create-201", {})
