"""The overlay drag's core (blender_addon/camera/drag_core.py): what a press picks and what a drag holds,
driven by the event sequence the modal operator forwards (press, moves, release or Esc)."""

from __future__ import annotations

import pytest

from blender_addon.camera.drag_core import DragSession, Held, Line, handles, parse_name, pick

SOLVED = [Line("x", (100.0, 500.0), (600.0, 420.0)), Line("z", (900.0, 100.0), (905.0, 650.0))]
SHOWN = (300.0, 340.0)


def to_region(x: float, y: float) -> tuple[float, float]:
    """A camera frame drawn at half size, 50 px in, y up (as Blender's region is)."""
    return 50.0 + x / 2.0, 50.0 + (720.0 - y) / 2.0


def test_a_press_picks_the_nearest_handle_within_reach_in_screen_pixels() -> None:
    found = handles(SHOWN, 1280.0, [], SOLVED)
    assert pick(found, to_region(905.0, 650.0), to_region).name == "solved:1:b"
    assert (
        pick(found, (to_region(0.0, 300.0)[0] + 8.0, to_region(0.0, 300.0)[1]), to_region).name
        == "horizon:left"
    )
    assert pick(found, (to_region(0.0, 300.0)[0] + 20.0, to_region(0.0, 300.0)[1]), to_region) is None


def test_the_artists_own_line_wins_over_the_solves_line_under_it() -> None:
    held = [Line("z", (900.0, 100.0), (800.0, 650.0))]
    assert pick(handles(SHOWN, 1280.0, held, SOLVED), to_region(900.0, 100.0), to_region).name == "held:0:a"


def test_press_move_release_drags_a_solve_line_into_a_held_copy_and_esc_puts_all_back() -> None:
    before = Held(None, [])
    session = DragSession(before, 1280.0, SOLVED, SHOWN)
    assert session.press(to_region(600.0, 420.0), (600.0, 420.0), to_region)
    session.move((610.0, 430.0))
    held = session.move((620.0, 410.0))
    assert held.lines == [Line("x", (100.0, 500.0), (620.0, 410.0))]  # one copy, moved twice
    assert session.release() == held
    assert session.cancel() == before and before.lines == []


def test_a_press_on_nothing_drags_nothing() -> None:
    session = DragSession(Held(None, []), 1280.0, SOLVED, SHOWN)
    assert not session.press((5.0, 5.0), (0.0, 0.0), to_region)
    assert session.move((100.0, 100.0)) == Held(None, [])


def test_dragging_the_right_end_keeps_the_held_left_end() -> None:
    session = DragSession(Held((310.0, 350.0), []), 1280.0, [], SHOWN)
    assert session.press(to_region(1280.0, 350.0), (1280.0, 350.0), to_region)
    held = session.move((640.0, 330.0))
    assert held.horizon == pytest.approx((310.0, 350.0))
    assert session.move((1280.0, 400.0)).horizon == pytest.approx((310.0, 400.0))


@pytest.mark.parametrize("name", ["horizon:top", "held:x:a", "solved:1", "line:0:a", ""])
def test_handle_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="expected horizon"):
        parse_name(name)
