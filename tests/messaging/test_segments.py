from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate.messaging.segments import (
    Encoding,
    SegmentCount,
    count_segments,
    is_gsm7,
    split_parts,
)

# 3GPP TS 23.038 default alphabet, row by row (0x00-0x7F); 0x1B (ESC) is not a character.
GSM_BASIC_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
GSM_BASIC = "".join(GSM_BASIC_ROWS)
GSM_EXT = "\f^{}\\[~]|€"
CAPS = {Encoding.GSM7: (160, 153), Encoding.UCS2: (70, 67)}


def units_of(text: str, encoding: Encoding) -> int:
    """Slow, obviously-correct unit count of ``text`` in ``encoding``."""
    if encoding is Encoding.GSM7:
        return sum(2 if c in GSM_EXT else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def reference_parts(text: str) -> list[str]:
    """Char-by-char greedy split, the slow reference for split_parts."""
    gsm = all(c in GSM_BASIC or c in GSM_EXT for c in text)
    encoding = Encoding.GSM7 if gsm else Encoding.UCS2
    single, multi = CAPS[encoding]
    if not text:
        return []
    if units_of(text, encoding) <= single:
        return [text]
    parts: list[str] = []
    current, used = "", 0
    for c in text:
        size = units_of(c, encoding)
        if used + size > multi:
            parts.append(current)
            current, used = "", 0
        current += c
        used += size
    parts.append(current)
    return parts


def test_tables_have_the_right_size() -> None:
    assert all(len(row) == 16 for row in GSM_BASIC_ROWS[2:])
    assert len(GSM_BASIC_ROWS[0]) == 16
    assert len(GSM_BASIC_ROWS[1]) == 15  # ESC left out
    assert len(set(GSM_BASIC)) == 127
    assert len(set(GSM_EXT)) == 10


def test_every_basic_char_is_one_septet() -> None:
    for c in GSM_BASIC:
        result = count_segments(c)
        assert (result.encoding, result.units, result.parts) == (Encoding.GSM7, 1, 1), repr(c)
    assert count_segments(GSM_BASIC).units == 127


def test_every_extension_char_is_two_septets() -> None:
    for c in GSM_EXT:
        assert is_gsm7(c), repr(c)
        result = count_segments(c)
        assert (result.encoding, result.units, result.parts) == (Encoding.GSM7, 2, 1), repr(c)


@pytest.mark.parametrize(
    "char",
    ["ç", "`", "\t", "\x00", "\x7f", "À", "Ù", "È", "ω", "\u2126", "Ж", "中", "😀", "\u00a0"],
)
def test_non_gsm_chars_force_ucs2(char: str) -> None:
    assert not is_gsm7(char)
    assert not is_gsm7("plain text " + char)
    assert count_segments("plain " + char).encoding is Encoding.UCS2


def test_cedilla_case_matters() -> None:
    assert is_gsm7("Ç")
    assert not is_gsm7("ç")
    assert count_segments("Ça va").encoding is Encoding.GSM7
    assert count_segments("ça va").encoding is Encoding.UCS2


def test_lookalikes() -> None:
    assert is_gsm7("ΔΩ")  # Greek capitals from the GSM table
    assert not is_gsm7("\u2206")  # INCREMENT, looks like Δ
    assert not is_gsm7("\u2126")  # OHM SIGN, looks like Ω


def test_euro_is_extension() -> None:
    assert count_segments("5€") == SegmentCount(Encoding.GSM7, 1, 3, 160, 157)


def test_empty_text_has_no_parts() -> None:
    assert count_segments("") == SegmentCount(Encoding.GSM7, 0, 0, 160, 160)
    assert split_parts("") == []
    assert is_gsm7("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, SegmentCount(Encoding.GSM7, 1, 160, 160, 0)),
        ("a" * 161, SegmentCount(Encoding.GSM7, 2, 161, 153, 145)),
        ("a" * 306, SegmentCount(Encoding.GSM7, 2, 306, 153, 0)),
        ("a" * 307, SegmentCount(Encoding.GSM7, 3, 307, 153, 152)),
        ("é" * 161, SegmentCount(Encoding.GSM7, 2, 161, 153, 145)),
        ("€" * 80, SegmentCount(Encoding.GSM7, 1, 160, 160, 0)),
        ("€" * 81, SegmentCount(Encoding.GSM7, 2, 162, 153, 143)),
        ("ж" * 70, SegmentCount(Encoding.UCS2, 1, 70, 70, 0)),
        ("ж" * 71, SegmentCount(Encoding.UCS2, 2, 71, 67, 63)),
        ("ж" * 134, SegmentCount(Encoding.UCS2, 2, 134, 67, 0)),
        ("ж" * 135, SegmentCount(Encoding.UCS2, 3, 135, 67, 66)),
        ("a" * 70 + "`", SegmentCount(Encoding.UCS2, 2, 71, 67, 63)),
        ("😀" * 35, SegmentCount(Encoding.UCS2, 1, 70, 70, 0)),
        ("😀" * 36, SegmentCount(Encoding.UCS2, 2, 72, 67, 61)),
    ],
)
def test_boundaries(text: str, expected: SegmentCount) -> None:
    assert count_segments(text) == expected
    assert len(split_parts(text)) == expected.parts


def test_extension_char_is_not_split_at_part_boundary() -> None:
    text = "a" * 152 + "€" + "a" * 10  # € would occupy septets 153 and 154
    assert split_parts(text) == ["a" * 152, "€" + "a" * 10]
    assert count_segments(text) == SegmentCount(Encoding.GSM7, 2, 164, 153, 141)


def test_extension_char_at_boundary_adds_a_part() -> None:
    text = "a" * 152 + "[" + "a" * 152  # 306 septets, but [ cannot straddle
    assert split_parts(text) == ["a" * 152, "[" + "a" * 151, "a"]
    assert count_segments(text) == SegmentCount(Encoding.GSM7, 3, 306, 153, 152)


def test_extension_char_that_fits_exactly_stays() -> None:
    text = "a" * 151 + "~" + "a" * 10
    assert split_parts(text) == ["a" * 151 + "~", "a" * 10]


def test_emoji_is_not_split_at_part_boundary() -> None:
    text = "ж" * 66 + "😀" + "ж" * 66  # 134 units, but the surrogate pair cannot straddle
    assert split_parts(text) == ["ж" * 66, "😀" + "ж" * 65, "ж"]
    assert count_segments(text) == SegmentCount(Encoding.UCS2, 3, 134, 67, 66)


def test_emoji_that_fits_exactly_stays() -> None:
    text = "a" * 65 + "🎉" + "b" * 5
    assert split_parts(text) == ["a" * 65 + "🎉", "b" * 5]


def test_cyrillic_is_ucs2() -> None:
    text = "Ваш код подтверждения: 4821"
    assert count_segments(text) == SegmentCount(Encoding.UCS2, 1, 27, 70, 43)
    assert not is_gsm7(text)


def test_mixed_gsm_non_ascii() -> None:
    text = "Grüße aus Köln, ΔΣ ¿Qué tal? {ok} ñ"
    result = count_segments(text)
    assert result.encoding is Encoding.GSM7
    assert result.units == len(text) + 2


def test_result_is_frozen() -> None:
    result = count_segments("hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.parts = 5  # type: ignore[misc]
    assert str(Encoding.GSM7) == "gsm7"
    assert f"{Encoding.UCS2}" == "ucs2"


# Long enough to go multipart, dense in two-unit characters so they land on part boundaries.
gsm_text = st.text(alphabet=st.sampled_from(GSM_BASIC + GSM_EXT * 4), min_size=90, max_size=480)
ucs_text = st.text(alphabet=st.sampled_from("aж€ 😀🎉\U0010fffd"), min_size=30, max_size=220)
any_text = st.one_of(gsm_text, ucs_text, st.text(max_size=400))


@given(any_text)
def test_split_matches_count(text: str) -> None:
    result = count_segments(text)
    parts = split_parts(text)
    single, multi = CAPS[result.encoding]
    assert "".join(parts) == text
    assert len(parts) == result.parts
    assert result.units == units_of(text, result.encoding)
    assert result.per_part == (single if result.parts <= 1 else multi)
    assert (result.parts == 1) == (0 < result.units <= single)
    assert (result.parts == 0) == (text == "")
    assert all(part for part in parts)
    for part in parts:
        assert units_of(part, result.encoding) <= result.per_part
    if parts:
        assert result.remaining == result.per_part - units_of(parts[-1], result.encoding)
        assert 0 <= result.remaining < result.per_part


@given(any_text)
def test_split_is_greedy_reference(text: str) -> None:
    assert split_parts(text) == reference_parts(text)


@given(any_text)
def test_no_surrogate_pair_is_split(text: str) -> None:
    result = count_segments(text)
    total = 0
    for part in split_parts(text):
        raw = part.encode("utf-16-le")
        last_unit = int.from_bytes(raw[-2:], "little")
        assert not 0xD800 <= last_unit <= 0xDBFF
        total += units_of(part, result.encoding)
    assert total == result.units


@given(any_text)
def test_is_gsm7_matches_tables(text: str) -> None:
    expected = all(c in GSM_BASIC or c in GSM_EXT for c in text)
    assert is_gsm7(text) is expected
    assert (count_segments(text).encoding is Encoding.GSM7) is expected
