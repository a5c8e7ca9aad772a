"""scenarios.forms: the fast body is the documented form, field for field."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest

from harness.core.api import StartStreamRequest, parse_start
from harness.core.correlation import PARAM_NAME, Expectation, digest
from harness.core.secret import Secret
from scenarios.forms import Forms
from scenarios.matrix import Combo, custom_parameters


FORMS = Forms(
    run_id="run-1",
    receiver_url="wss://rx.example/stream",
    receiver_url_open="wss://open.example/stream",
    callback_url="https://cb.example/callbacks",
    bearer_token=Secret("bearer-XYZ"),
)


@pytest.mark.parametrize(
    "combo",
    [
        Combo("PCMU", "inbound_track", 0, "sid"),
        Combo(
            "L16@24000h", "both_tracks", 98, "name", long_params=True, real_time=True
        ),
        Combo(
            "PCMA",
            "outbound_track",
            10,
            "sid",
            real_time=False,
            bearer=False,
            callback=True,
        ),
    ],
)
def test_the_body_is_the_documented_form(combo: Combo) -> None:
    name = "sl-r-1" if combo.stop_by == "name" else None
    body, expect = FORMS.start(combo, "r-1", name)
    params = custom_parameters(combo.n_params, combo.long_params)
    assert expect == Expectation(
        "run-1", "r-1", combo.codec, combo.track, combo.n_params, digest(params)
    )
    reference = StartStreamRequest(
        url="wss://rx.example/stream" if combo.bearer else "wss://open.example/stream",
        name=name,
        track=combo.track,
        codec=combo.codec,
        real_time=combo.real_time,
        status_callback="https://cb.example/callbacks" if combo.callback else None,
        status_callback_method="POST" if combo.callback else None,
        parameters=(*params, (PARAM_NAME, expect.encode())),
        bearer_token=Secret("bearer-XYZ") if combo.bearer else None,
    )
    assert sorted(parse_qsl(body)) == sorted(parse_qsl(urlencode(reference.form())))
    parsed = parse_start(dict(parse_qsl(body)))
    assert isinstance(parsed, StartStreamRequest)
    assert parsed.parameters == reference.parameters
    assert len(body) < 60_000


def test_requests_of_one_cell_differ_only_in_their_own_fields() -> None:
    combo = Combo("PCMU", "inbound_track", 10, "sid")
    a, _ = FORMS.start(combo, "r-1", None)
    b, _ = FORMS.start(combo, "r-2", None)
    assert a != b and a.replace("r-1", "r-2") == b


def test_forms_with_the_same_settings_may_share_cells_and_others_may_not() -> None:
    def forms(run_id: str = "run-1", bearer: str | None = "t0ken") -> Forms:
        return Forms(
            run_id=run_id,
            receiver_url="wss://r/s",
            receiver_url_open="wss://r/open",
            callback_url="https://cb/x",
            bearer_token=Secret(bearer) if bearer is not None else None,
        )

    assert forms().same_as(forms())
    assert not forms().same_as(forms(run_id="run-2"))
    assert not forms().same_as(forms(bearer="other"))
    assert not forms().same_as(forms(bearer=None))
    assert forms(bearer=None).same_as(forms(bearer=None))


@pytest.mark.parametrize("name", [None, "sl-r 1&x"])
@pytest.mark.parametrize("bearer", [True, False])
def test_a_request_is_the_start_its_expectation_and_fingerprint(
    name: str | None, bearer: bool
) -> None:
    """One look-up a start (issue 14) gives what the three separate calls give."""
    combo = Combo("PCMU", "both_tracks", 10, "name", long_params=True, bearer=bearer)
    body, expect = FORMS.start(combo, "scenario-ab12cd-9-42", name)
    assert FORMS.request(combo, "scenario-ab12cd-9-42", name) == (
        body,
        expect.encode(),
        FORMS.fingerprint(combo),
    )
