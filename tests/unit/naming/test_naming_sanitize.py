"""safe_component: names stay readable (Korean included) yet are valid on Windows, macOS and Linux."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aipipe_shared.naming import MAX_COMPONENT_BYTES, is_device_name, is_safe_component, safe_component

WINDOWS_RESERVED = set('<>:"/\\|?*')


def assert_safe(name: str) -> None:
    assert name not in ("", ".", "..")
    assert len(name.encode("utf-8")) <= MAX_COMPONENT_BYTES
    assert not WINDOWS_RESERVED & set(name)
    assert not any(unicodedata.category(char) in ("Cc", "Cs") for char in name)
    assert not name.endswith((".", " "))
    assert not is_device_name(name)
    assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize("name", ["CHR_리나", "ENV_골목길", "ENV_옥상", "SHT_0010", "final cut v2", ".blend"])
def test_readable_names_are_kept_as_they_are(name: str) -> None:
    assert safe_component(name) == name
    assert is_safe_component(name)


def test_decomposed_korean_is_normalised_to_composed() -> None:
    nfd = unicodedata.normalize("NFD", "CHR_리나")
    assert nfd != "CHR_리나"
    assert safe_component(nfd) == "CHR_리나"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CON", "_CON"),
        ("con", "_con"),
        ("nul.txt", "_nul.txt"),
        ("Com1.tar.gz", "_Com1.tar.gz"),
        ("LPT9", "_LPT9"),
        ("COM\u00b9", "_COM\u00b9"),
        ("AUX .log", "_AUX .log"),
        ("CONSOLE", "CONSOLE"),
        ("COM10", "COM10"),
        ("..", "_"),
        (".", "_"),
        ("", "_"),
        ("   ", "_"),
        ("name...", "name"),
        ("name. . ", "name"),
        ("  leading", "leading"),
        ("a/b", "a_b"),
        ("..\\..\\x", ".._.._x"),
        ("x\x00y\n", "x_y"),
        ('<>:"|?*', "_______"),
        ("리나?", "리나_"),
    ],
)
def test_hostile_names_become_safe_components(name: str, expected: str) -> None:
    assert safe_component(name) == expected
    assert_safe(safe_component(name))


def test_long_korean_name_is_cut_to_255_bytes_at_a_character_boundary() -> None:
    name = "가" * 100  # 300 bytes of UTF-8
    safe = safe_component(name)
    assert safe == "가" * 85
    assert len(safe.encode("utf-8")) == 255


def test_cut_never_leaves_a_letter_without_its_combining_mark() -> None:
    name = "a" * 253 + "e\u0301\u0301"  # no precomposed form holds two accents
    safe = safe_component(name)
    assert safe == "a" * 253
    assert not unicodedata.combining(safe[-1])


def test_cut_that_exposes_a_device_name_is_caught() -> None:
    assert safe_component("CON" + " " * 300 + "x") == "_CON"


def test_lone_surrogates_from_undecodable_bytes_are_replaced() -> None:
    assert safe_component(b"clip\xff.mov".decode("utf-8", "surrogateescape")) == "clip_.mov"


def test_non_text_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        safe_component(b"bytes")  # type: ignore[arg-type]


@given(st.text(st.characters(codec="utf-8")) | st.text())
@example("가" * 100)
@example("CON.txt")
@example("a" * 254 + "\u00e9")
def test_any_text_becomes_a_safe_idempotent_component(name: str) -> None:
    safe = safe_component(name)
    assert_safe(safe)
    assert safe_component(safe) == safe
    assert is_safe_component(safe)


@given(st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=80))
def test_short_korean_names_are_unchanged(name: str) -> None:
    assert safe_component(name) == name
