from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from scenarios.context import Pacer, context_from_options


def options(**over: str) -> argparse.Namespace:
    values = {
        "sl_profile": "",
        "sl_run_dir": "",
        "sl_run_id": "run-1",
        "sl_account_sid": "acc",
        "sl_receiver_url": "wss://r/s",
        "sl_receiver_url_open": "",
        "sl_callback_url": "",
        "sl_ca_file": "",
        "sl_conferences": "c1,c2",
        "sl_workers": "1",
        "sl_codecs": "PCMU,L16@16000h",
        "sl_tracks": "both_tracks",
        "sl_params": "0,10",
        "sl_stop_by": "sid,name",
        "sl_hold": "1-3",
        **{
            f"sl_{k}": ""
            for k in (
                "param_size",
                "real_time",
                "bearer_token",
                "status_callback",
                "wait",
                "rate",
            )
        },
    }
    values.update(over)
    return argparse.Namespace(**values)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "s3cr3t-api-value")
    monkeypatch.setenv("STREAMLOAD_BEARER_TOKEN", "s3cr3t-bearer-value")


def test_context_walks_the_matrix_with_flags_over_the_profile(tmp_path: Path) -> None:
    ctx = context_from_options(options(sl_run_dir=str(tmp_path)), record=True)
    assert ctx.matrix.cycle == 8 and ctx.conferences == ["c1", "c2"]
    assert ctx.load.hold_s == (1.0, 3.0) and ctx.pacer is None
    first = [ctx.next_combo() for _ in range(9)]
    assert first[8] == first[0] and {c.codec for c in first} == {"PCMU", "L16@16000h"}
    assert ctx.next_request_id() != ctx.next_request_id()
    assert ctx.sink is not None and "s3cr3t" not in repr(ctx)


def test_a_profile_sets_the_matrix(tmp_path: Path) -> None:
    ctx = context_from_options(
        options(
            sl_profile="smoke",
            sl_callback_url="https://cb.example/c",
            **{
                k: ""
                for k in (
                    "sl_codecs",
                    "sl_tracks",
                    "sl_params",
                    "sl_stop_by",
                    "sl_hold",
                )
            },
        ),
        record=False,
    )
    assert ctx.profile.name == "smoke" and ctx.matrix.cycle > 1000


def test_the_open_model_splits_the_rate_between_processes() -> None:
    ctx = context_from_options(options(sl_rate="20", sl_workers="4"), record=False)
    assert ctx.pacer is not None and ctx.pacer.interval_ns == 200_000_000
    assert [ctx.pacer.take(1000), ctx.pacer.take(5), ctx.pacer.take(10**12)] == [
        1000,
        200_001_000,
        400_001_000,
    ]


def test_the_schedule_ends_with_the_run_time() -> None:
    pacer = Pacer(10, duration_s=0.25)
    assert [pacer.take(0) for _ in range(4)] == [0, 100_000_000, 200_000_000, None]


def test_a_master_records_nothing() -> None:
    assert context_from_options(options(), record=False).sink is None


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("sl_codecs", "G722", "--sl-codecs: 'G722' is not allowed"),
        ("sl_tracks", "both", "--sl-tracks: 'both' is not allowed"),
        ("sl_params", "99", "--sl-params: 99 is not allowed; use 0 to 98"),
        ("sl_stop_by", "call", "--sl-stop-by: 'call' is not allowed"),
        ("sl_hold", "x", "--sl-hold: 'x' is not a time span"),
        ("sl_receiver_url", "", "--sl-receiver-url: is required"),
        ("sl_status_callback", "on", "--sl-callback-url: is required"),
        ("sl_profile", "nope", "nope: cannot read the profile"),
    ],
)
def test_bad_options_name_the_flag(field, value, text) -> None:
    with pytest.raises(ConfigError) as raised:
        context_from_options(options(**{field: value}), record=False)
    assert str(raised.value).startswith(text)


def test_missing_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMLOAD_BEARER_TOKEN")
    with pytest.raises(ConfigError, match="STREAMLOAD_BEARER_TOKEN: is not set"):
        context_from_options(options(), record=False)
    assert context_from_options(options(sl_bearer_token="off"), record=False)
    monkeypatch.delenv("SIGNALWIRE_API_TOKEN")
    with pytest.raises(ConfigError, match="SIGNALWIRE_API_TOKEN: is not set"):
        context_from_options(options(), record=False)


def test_a_budget_admits_up_to_its_share_then_notes_the_cap_once(
    tmp_path: Path,
) -> None:
    from harness.core.profiles.profile import BudgetSpec
    from scenarios.context import Budget

    budget = Budget(BudgetSpec(max_streams=3), 1, tmp_path, "scenario-1")
    assert [budget.admit(1.0) for _ in range(5)] == [True, True, True, False, False]
    assert budget.reached == "max_streams" and budget.started == 3
    import json

    note = json.loads((tmp_path / "budget" / "scenario-1.json").read_text())
    assert (note["cap"], note["started"], note["max_streams"]) == ("max_streams", 3, 3)


def test_several_processes_split_a_cap_and_never_exceed_it_together() -> None:
    from harness.core.profiles.profile import BudgetSpec
    from scenarios.context import Budget

    for cap in range(12):
        for workers in range(1, 5):
            total = 0
            for index in range(workers):
                b = Budget(BudgetSpec(max_streams=cap), workers)
                total += sum(b.admit(1.0, index) for _ in range(cap + 3))
            assert total == (cap if cap else workers * (cap + 3)), (cap, workers)


def test_stream_minutes_count_each_drawn_hold() -> None:
    from harness.core.profiles.profile import BudgetSpec
    from scenarios.context import Budget

    b = Budget(BudgetSpec(max_stream_minutes=1.0), 2)  # 30 s for this process
    assert [b.admit(hold) for hold in (10, 10, 10, 0.5)] == [True, True, True, False]
    assert b.reached == "max_stream_minutes" and b.stream_s == 30


def test_producer_names_differ_between_hosts_even_at_the_same_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Locust workers in containers on several hosts often all run as pid 1.
    import socket

    names = set()
    for host in ("worker-a", "worker-b"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        monkeypatch.setattr("os.getpid", lambda: 1)
        names.add(context_from_options(options(), record=False).producer)
    assert len(names) == 2 and all(n.startswith("scenario-") for n in names)
    assert all(n.endswith("-1") for n in names)


def test_prepare_encodes_every_cell_up_front_and_the_bodies_stay_the_same() -> None:
    cold = context_from_options(options(), record=False)
    warm = context_from_options(options(), record=False)
    assert warm.prepare() == warm.matrix.cycle == 8
    assert len(warm.forms._cells) == 8 and not cold.forms._cells
    for i in range(8):
        combo = cold.matrix.combo(i)
        assert warm.forms.start(combo, f"r-{i}", None) == cold.forms.start(
            combo, f"r-{i}", None
        )


def test_a_pacer_begun_at_the_run_start_hands_out_slots_from_there() -> None:
    pacer = Pacer(10.0, 1.0)  # 100 ms apart for 1 s
    pacer.begin(1_000)
    # the first user arrives 250 ms late: the slots already due come at once
    assert [pacer.take(250_001_000) for _ in range(3)] == [
        1_000,
        100_001_000,
        200_001_000,
    ]
    rest = [pacer.take(2_000_000_000) for _ in range(8)]
    assert rest[:7] == [300_001_000 + i * 100_000_000 for i in range(7)]
    assert rest[7] is None  # the schedule ends a duration after the run's start
