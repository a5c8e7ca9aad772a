"""The transport names the CLI offers are the ones the receivers implement."""

from __future__ import annotations

import importlib

import pytest

from harness.core.transports import DEFAULT_TRANSPORT, TRANSPORTS
from harness.run.cli import main


def test_each_name_has_a_receiver_transport_module_and_the_default_is_one() -> None:
    assert DEFAULT_TRANSPORT in TRANSPORTS
    for name in TRANSPORTS:
        module = importlib.import_module(f"receivers.transport_{name}")
        assert module.__name__ == f"receivers.transport_{name}"


def test_a_run_refuses_an_unknown_transport_naming_the_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["run", "--receiver-transport", "tornado"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--receiver-transport" in err and all(t in err for t in TRANSPORTS)
