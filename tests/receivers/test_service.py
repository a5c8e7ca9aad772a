"""receivers.service: the flags, JSON lines, stopping and exit codes both services share."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_HARNESS, EXIT_PASS, EXIT_USAGE
from harness.core.record_loss import RecordLoss
from harness.io.tls import TlsFiles
from receivers import service


def parser() -> service.Parser:
    return service.parser(
        "prog", "a service", path="/here", path_help="the path", producer="svc"
    )


def flags(tls: TlsFiles, run_dir: Path, *extra: str) -> list[str]:
    return [
        "--cert-file",
        str(tls.cert_file),
        "--key-file",
        str(tls.key_file),
        "--run-dir",
        str(run_dir),
        *extra,
    ]


def test_the_common_flags_and_their_defaults(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    a = parser().parse_args(flags(tls_files, tmp_path))
    assert (a.host, a.port, a.path, a.producer) == ("127.0.0.1", 0, "/here", "svc")
    assert (a.max_duration, a.stats_interval, a.run_dir) == (3600.0, 1.0, tmp_path)


def test_a_syntax_error_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["--port", "x"])
    assert info.value.code == EXIT_USAGE
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith("prog: argument --port: invalid int value: 'x'")
    assert err.endswith("; see prog --help")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "70000"], "--port: 70000 is out of range; use 0..65535 (0 picks one)"),
        (["--path", "x"], "--path: 'x' does not start with /; use e.g. /here"),
        (["--max-duration", "0"], "--max-duration: 0.0 is not positive; give a number of seconds > 0"),
        (["--stats-interval", "nan"], "--stats-interval: nan is not positive; give a number of seconds > 0"),
        (["--producer", "a/b"], "--producer: 'a/b' is not a file-name part; use e.g. svc"),
    ],
)  # fmt: skip
def test_check_flags_names_the_flag_and_the_fix(
    tls_files: TlsFiles, tmp_path: Path, extra: list[str], message: str
) -> None:
    p = parser()
    with pytest.raises(ConfigError) as info:
        service.check_flags(p.parse_args(flags(tls_files, tmp_path, *extra)), p)
    assert str(info.value) == message


def test_check_flags_checks_files_and_extra_seconds(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    p = parser()
    p.add_argument("--idle", type=float, default=-1.0)
    a = p.parse_args(flags(tls_files, tmp_path))
    service.check_flags(a, p)  # --idle is not a seconds flag unless named
    with pytest.raises(ConfigError, match="^--idle: -1.0 is not positive"):
        service.check_flags(a, p, seconds=("--idle",))
    missing = p.parse_args(flags(tls_files, tmp_path, "--key-file", "/nonexistent"))
    with pytest.raises(ConfigError, match="^--key-file: '/nonexistent' is not a file"):
        service.check_flags(missing, p)
    a_file = p.parse_args(flags(tls_files, Path(tls_files.cert_file)))
    with pytest.raises(ConfigError, match="^--run-dir: .* is not a directory"):
        service.check_flags(a_file, p)


def test_stop_event_is_set_by_signals_and_by_the_deadline() -> None:
    async def deadline() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        stop, timer = service.stop_event(0.05)
        await asyncio.wait_for(stop.wait(), 5)
        timer.cancel()
        return loop.time() - started

    async def sigterm() -> None:
        stop, timer = service.stop_event(3600)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
        timer.cancel()

    assert asyncio.run(deadline()) >= 0.05
    asyncio.run(sigterm())


def test_tls_context_loads_a_pair_and_refuses_a_mismatch(tls_files: TlsFiles) -> None:
    context = service.tls_context(tls_files.cert_file, tls_files.key_file)
    assert isinstance(context, ssl.SSLContext)
    with pytest.raises(ConfigError, match="^--cert-file/--key-file: cannot load"):
        service.tls_context(tls_files.key_file, tls_files.cert_file)


def test_records_dir_is_created_or_refused(tmp_path: Path) -> None:
    assert service.records_dir(tmp_path / "run") == tmp_path / "run" / "records"
    assert (tmp_path / "run" / "records").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="^--run-dir: cannot create .*records"):
        service.records_dir(blocker)


def test_listen_error_names_the_address() -> None:
    error = service.listen_error("::1", 443, OSError(98, "Address already in use"))
    assert str(error) == (
        "--listen: cannot listen on ::1:443 (Address already in use); "
        "choose a free port, or 0"
    )


def test_every_calls_plain_and_async_actions_until_stopped() -> None:
    calls: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()

        async def flush() -> None:
            calls.append("flush")

        tasks = [
            asyncio.create_task(
                service.every(0.01, stop, lambda: calls.append("stats"))
            ),
            asyncio.create_task(service.every(0.01, stop, flush)),
        ]
        while len(calls) < 6:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    asyncio.run(scenario())
    assert {"stats", "flush"} <= set(calls)


def test_exit_code_is_3_when_records_were_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("receivers.test")
    loss = RecordLoss("r", "receiver")
    assert service.exit_code(loss, log, tmp_path) == EXIT_PASS
    assert caplog.records == []
    loss.fail("frames", 10, "disk full", 1, 1)
    loss.fail("frames", 5, "disk full", 2, 2)
    loss.drop("frames", 3, 3, 3)
    assert service.exit_code(loss, log, tmp_path) == EXIT_HARNESS
    (record,) = caplog.records
    assert record.name == "receivers.test"
    assert record.getMessage() == (
        f"2 record write(s) failed (15 rows), 3 rows dropped; records under "
        f"{tmp_path} are incomplete"
    )


def test_run_maps_a_config_error_to_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse() -> int:
        raise ConfigError("--port", "70000 is out of range", "use 0..65535")

    assert service.run("prog", lambda: 7) == 7
    assert service.run("prog", refuse) == EXIT_USAGE
    out = capsys.readouterr()
    assert out.err == "prog: --port: 70000 is out of range; use 0..65535\n"
    assert out.out == ""
