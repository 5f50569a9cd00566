"""Panel text wraps by display width: Hangul takes two columns (no Blender needed)."""

from __future__ import annotations

from blender_addon.core.textwrap import display_width, wrap


def test_hangul_counts_two_columns_and_latin_one() -> None:
    assert display_width("Shot") == 4
    assert display_width("샷 목록") == 7
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_korean_wraps_at_half_the_characters_of_english() -> None:
    english = wrap("the server refused the change", 12)
    korean = wrap("서버가 변경을 거부했습니다 다시 시도하세요", 12)
    assert english == ["the server", "refused the", "change"]
    assert korean == ["서버가", "변경을", "거부했습니다", "다시", "시도하세요"]
    assert all(display_width(line) <= 12 for line in korean)


def test_a_word_wider_than_the_line_is_cut_not_overflowing() -> None:
    lines = wrap("가나다라마바사아자차", 8)
    assert lines == ["가나다라", "마바사아", "자차"]
    assert all(display_width(line) <= 8 for line in lines)


def test_mixed_text_keeps_every_word_in_order() -> None:
    text = "SHT_0010 레이아웃 v003 게시됨 (working file /work/a.blend)"
    lines = wrap(text, 20)
    assert " ".join(lines).split() == text.split()
    assert all(display_width(line) <= 20 for line in lines)
