"""Build valid media streams as the platform would send them (test support)."""

from __future__ import annotations

import base64
import json

from harness.core.api import TRACK_MEDIA
from harness.core.audio import encoded_frames
from harness.core.codecs import get_codec
from harness.core.correlation import PARAM_NAME, Expectation, digest


def valid_stream(
    codec: str = "PCMU",
    track: str = "both_tracks",
    n_params: int = 2,
    chunks: int = 5,
    *,
    stream_sid: str = "7d56cc11-536d-4a45-b4fb-ed3d55be843b",
    request_id: str = "req-1",
) -> tuple[list[str], Expectation]:
    """Return the JSON texts of a whole stream and the expectation it carries."""
    params = [(f"p{i}", f"v{i}") for i in range(1, n_params + 1)]
    exp = Expectation("run-1", request_id, codec, track, n_params, digest(params))
    c = get_codec(codec)
    tracks = TRACK_MEDIA[track]
    out = [json.dumps({"event": "connected", "protocol": "Call", "version": "0.2.0"})]
    out.append(
        json.dumps(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "streamSid": stream_sid,
                    "accountSid": "b08dacad-2f6c-4de1-93d6-cc732e0c69c5",
                    "callSid": "76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad",
                    "tracks": list(tracks),
                    "customParameters": {**dict(params), PARAM_NAME: exp.encode()},
                    "mediaFormat": {
                        "encoding": c.encoding,
                        "sampleRate": c.sample_rate,
                        "channels": 1,
                    },
                },
            }
        )
    )
    payloads = {
        t: [base64.b64encode(f).decode() for f in encoded_frames(c, t)] for t in tracks
    }
    seq = 2
    for k in range(1, chunks + 1):
        for t in tracks:
            out.append(
                json.dumps(
                    {
                        "event": "media",
                        "sequenceNumber": str(seq),
                        "media": {
                            "track": t,
                            "chunk": str(k),
                            "timestamp": str((k - 1) * 20),
                            "payload": payloads[t][(k - 1) % 50],
                        },
                    }
                )
            )
            seq += 1
    out.append(json.dumps({"event": "stop", "sequenceNumber": str(seq)}))
    return out, exp
