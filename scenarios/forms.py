"""Encode start-stream forms fast enough for thousands of requests a second per core.

Everything a request shares with the other requests of its matrix cell (URL,
track, codec, custom parameters and their digest, bearer token) is encoded
once per cell; a request adds only its correlation parameter and its name. The
body is what ``urlencode(StartStreamRequest(...).form())`` gives (a test holds
the two equal), so the platform sees the documented fields in their spelling.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final
from urllib.parse import quote_plus

from harness.core.correlation import PARAM_NAME, Expectation, digest, fingerprint
from harness.core.secret import Secret
from scenarios.matrix import Combo, custom_parameters


__all__ = ["Forms"]

_SAFE: Final = re.compile(r"[A-Za-z0-9_.\-]*")
"""Characters form encoding leaves alone (request ids are ``scenario-PID-N``)."""
_MARK: Final = "\0"


def _quote(text: str) -> str:
    return text if _SAFE.fullmatch(text) else quote_plus(text)


@dataclasses.dataclass(frozen=True, slots=True)
class _Cell:
    head: str
    """Every field before the correlation value, its name included, encoded."""
    before: str
    after: str
    """The encoded correlation value either side of the request id."""
    digest: str
    tail: str
    """Fields after it (the bearer token), encoded."""
    plain: tuple[str, str]
    """The correlation value either side of the request id, as sent (decoded)."""
    fingerprint: str
    """The custom parameters as sent, streamload's last (its value masked): the
    ``requests.params`` record, one string shared by the cell's requests."""


class Forms:
    """Start-request bodies per matrix cell, plus the request's own fields."""

    def __init__(
        self,
        *,
        run_id: str,
        receiver_url: str,
        receiver_url_open: str,
        callback_url: str,
        bearer_token: Secret | None,
    ) -> None:
        self.run_id = run_id
        self._urls = {True: receiver_url, False: receiver_url_open}
        self._callback = callback_url
        self._bearer = bearer_token
        self._cells: dict[Combo, _Cell] = {}
        self._params: dict[tuple[int, bool], tuple[str, str]] = {}

    def start(
        self, combo: Combo, request_id: str, name: str | None
    ) -> tuple[str, Expectation]:
        """The urlencoded body of one start request and what it asks for."""
        cell = self._cells.get(combo)
        if cell is None:
            cell = self._cells[combo] = self._cell(combo)
        expect = Expectation(
            self.run_id,
            request_id,
            combo.codec,
            combo.track,
            combo.n_params,
            cell.digest,
        )
        body = f"{cell.head}{cell.before}{_quote(request_id)}{cell.after}"
        if name is not None:
            body += f"&Name={_quote(name)}"
        return body + cell.tail, expect

    def request(
        self, combo: Combo, request_id: str, name: str | None
    ) -> tuple[str, str, str]:
        """What a start sends and records: (body, correlation value, fingerprint).

        :meth:`start`'s body; the correlation value is its
        :class:`~harness.core.correlation.Expectation` encoded, and the
        fingerprint :meth:`fingerprint`'s, from one look-up of the cell
        (a start's hot path: ~2 µs less than building the expectation).
        """
        cell = self._cells.get(combo)
        if cell is None:
            cell = self._cells[combo] = self._cell(combo)
        body = f"{cell.head}{cell.before}{_quote(request_id)}{cell.after}"
        if name is not None:
            body += f"&Name={_quote(name)}"
        before, after = cell.plain
        return body + cell.tail, f"{before}{request_id}{after}", cell.fingerprint

    def same_as(self, other: Forms) -> bool:
        """Whether ``other`` encodes every cell as this does (its cells may be reused)."""
        return (
            self.run_id == other.run_id
            and self._urls == other._urls
            and self._callback == other._callback
            and self._bearer == other._bearer
        )

    def fingerprint(self, combo: Combo) -> str:
        """What :attr:`_Cell.fingerprint` says for ``combo`` (its cell is built once)."""
        cell = self._cells.get(combo)
        if cell is None:
            cell = self._cells[combo] = self._cell(combo)
        return cell.fingerprint

    def _cell(self, combo: Combo) -> _Cell:
        fields = [
            ("Url", self._urls[combo.bearer]),
            ("Track", combo.track),
            ("StreamCodec", combo.codec),
        ]
        if combo.real_time is not None:
            fields.append(("StreamRealTime", "true" if combo.real_time else "false"))
        if combo.callback:
            fields += [
                ("StatusCallback", self._callback),
                ("StatusCallbackMethod", "POST"),
            ]
        params, params_digest = self._encoded_params(combo.n_params, combo.long_params)
        n = combo.n_params + 1
        template = Expectation(
            self.run_id,
            _MARK,
            combo.codec,
            combo.track,
            combo.n_params,
            params_digest,
        ).encode()
        before, after = template.split(_MARK)
        tail = ""
        if combo.bearer and self._bearer is not None:
            tail = f"&AuthorizationBearerToken={quote_plus(self._bearer.reveal())}"
        return _Cell(
            head="&".join(f"{k}={quote_plus(v)}" for k, v in fields)
            + params
            + f"&Parameter{n}.Name={PARAM_NAME}&Parameter{n}.Value=",
            before=quote_plus(before),
            after=quote_plus(after),
            digest=params_digest,
            tail=tail,
            plain=(before, after),
            fingerprint=fingerprint(
                [
                    *custom_parameters(combo.n_params, combo.long_params),
                    (PARAM_NAME, ""),
                ]
            ),
        )

    def _encoded_params(self, n: int, long: bool) -> tuple[str, str]:
        """The custom parameters as ``&Parameter1.Name=...`` and their digest, once."""
        cached = self._params.get((n, long))
        if cached is None:
            params = custom_parameters(n, long)
            encoded = "".join(
                f"&Parameter{i}.Name={quote_plus(k)}&Parameter{i}.Value={quote_plus(v)}"
                for i, (k, v) in enumerate(params, start=1)
            )
            cached = self._params[(n, long)] = (encoded, digest(params))
        return cached
