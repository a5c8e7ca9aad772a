from __future__ import annotations

import pytest

from harness.core.codecs import CODEC_NAMES, codec_by_encoding, get_codec
from harness.core.errors import ConfigError


def test_every_rest_codec_is_known() -> None:
    """contract §1.1: the StreamCodec enum."""
    assert CODEC_NAMES == ("PCMU", "PCMA", "L16", "L16@16000h", "L16@24000h")


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_media_format_maps_back_to_the_codec(name) -> None:
    codec = get_codec(name)
    assert codec_by_encoding(codec.encoding, codec.sample_rate) == name


def test_unknown_codec_names_the_field_and_the_fix() -> None:
    with pytest.raises(ConfigError) as raised:
        get_codec("G722")
    assert str(raised.value) == (
        "StreamCodec: 'G722' is not a known codec; use one of PCMU, PCMA, L16, L16@16000h, L16@24000h"
    )
