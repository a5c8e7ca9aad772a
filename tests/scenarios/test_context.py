from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from harness.errors import ConfigError
from scenarios.context import context_from_options


def options(**over: str) -> argparse.Namespace:
    values = {
        "sl_run_dir": "",
        "sl_run_id": "run-1",
        "sl_account_sid": "acc",
        "sl_receiver_url": "wss://r/s",
        "sl_ca_file": "",
        "sl_conferences": "c1,c2",
        "sl_codecs": "PCMU,L16@16000h",
        "sl_tracks": "both_tracks",
        "sl_params": "0,10",
        "sl_stop_by": "sid,name",
        "sl_hold": "1-3",
    }
    values.update(over)
    return argparse.Namespace(**values)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "s3cr3t-api-value")
    monkeypatch.delenv("STREAMLOAD_BEARER_TOKEN", raising=False)


def test_context_walks_the_matrix_round_robin(tmp_path: Path) -> None:
    ctx = context_from_options(options(sl_run_dir=str(tmp_path)), record=True)
    assert (
        len(ctx.matrix) == 8
        and ctx.conferences == ["c1", "c2"]
        and ctx.hold_s == (1.0, 3.0)
    )
    assert [ctx.next_combo() for _ in range(9)][8] == ctx.matrix[0]
    assert ctx.next_request_id() != ctx.next_request_id()
    assert ctx.sink is not None and "s3cr3t" not in repr(ctx)


def test_a_master_records_nothing() -> None:
    assert context_from_options(options(), record=False).sink is None


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("sl_codecs", "G722", "--sl-codecs: 'G722' is not a codec"),
        ("sl_tracks", "both", "--sl-tracks: 'both' is not a track"),
        ("sl_params", "99", "--sl-params: counts must be whole numbers from 0 to 98"),
        ("sl_stop_by", "call", "--sl-stop-by: 'call' is not a stop style"),
        ("sl_hold", "x", "--sl-hold: 'x' is not a hold time"),
        ("sl_receiver_url", "", "--sl-receiver-url: is required"),
    ],
)
def test_bad_options_name_the_flag(field, value, text) -> None:
    with pytest.raises(ConfigError) as raised:
        context_from_options(options(**{field: value}), record=False)
    assert str(raised.value).startswith(text)


def test_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNALWIRE_API_TOKEN")
    with pytest.raises(ConfigError, match="SIGNALWIRE_API_TOKEN: is not set"):
        context_from_options(options(), record=False)
