"""The Fountain reader: what a breakdown takes from each element of the syntax (https://fountain.io/syntax)."""

from __future__ import annotations

from pathlib import Path

from sync_server.breakdown.fountain import parse_fountain
from sync_server.breakdown.script import Action, Dialogue, Transition

SAMPLE = (Path(__file__).resolve().parents[1] / "data" / "breakdown" / "night_alley.fountain").read_text(
    encoding="utf-8"
)


def test_title_page_scene_headings_and_numbers() -> None:
    script = parse_fountain(SAMPLE)
    assert script.title == "Night Alley"
    assert [(s.heading, s.number, s.int_ext, s.location, s.time_of_day) for s in script.scenes] == [
        ("EXT. ALLEY - NIGHT", "1", "EXT", "ALLEY", "NIGHT"),
        ("ROOFTOP - DAWN", "", "", "ROOFTOP", "DAWN"),  # forced with a leading '.'
    ]
    assert script.scenes[0].line == 13
    assert script.scenes[0].synopsis == "Rina chases Minsu through the rain."


def test_dialogue_cues_extensions_parentheticals_and_dual_dialogue() -> None:
    alley, rooftop = parse_fountain(SAMPLE).scenes
    lines = [e for e in alley.elements if isinstance(e, Dialogue)]
    assert [(d.character, d.extension, d.parenthetical, d.text, d.dual) for d in lines] == [
        ("MINSU", "V.O.", "", "Why are you following me?", False),
        ("RINA", "", "shouting", "Stop running!", False),
        ("MINSU", "", "", "Leave me alone!", True),
    ]
    later = [e for e in rooftop.elements if isinstance(e, Dialogue)]
    # `@` forces a mixed-case cue; (CONT'D) is not an extension worth keeping.
    assert [(d.character, d.extension) for d in later] == [("McCLANE", ""), ("RINA", "")]


def test_transitions_forced_transitions_and_centered_text() -> None:
    alley, rooftop = parse_fountain(SAMPLE).scenes
    assert [t.text for t in alley.elements if isinstance(t, Transition)] == ["CUT TO:"]
    assert [t.text for t in rooftop.elements if isinstance(t, Transition)] == ["FADE OUT.", "THE END"]


def test_notes_are_kept_apart_and_the_boneyard_is_dropped() -> None:
    script = parse_fountain(SAMPLE)
    assert script.notes == ["Check the rain plates with VFX."]
    text = " ".join(e.text for s in script.scenes for e in s.elements)
    assert "[[" not in text and "VFX" not in text
    assert "POLICE STATION" not in text and "DETECTIVE OH" not in text
    first = script.scenes[0].elements[0]
    assert isinstance(first, Action) and first.text == (
        "Rain hammers the empty alley. Neon signs bleed into the wet asphalt."
    )


def test_a_note_across_lines_and_a_note_alone_on_a_line_do_not_split_paragraphs() -> None:
    script = parse_fountain(
        "INT. FLAT - DAY\n\nShe waits.\n[[Is this\ntoo slow?]]\nThe kettle boils.\n\nJOHN\nTea?\n"
    )
    (scene,) = script.scenes
    assert script.notes == ["Is this\ntoo slow?"]
    assert [type(e).__name__ for e in scene.elements] == ["Action", "Dialogue"]
    assert scene.elements[0].text == "She waits.\nThe kettle boils."


def test_lowercase_headings_sections_page_breaks_forced_action_and_emphasis() -> None:
    script = parse_fountain(
        "# ACT ONE\n\nint. kitchen - morning\n\n!BANG. The door opens.\n\n===\n\n"
        "MARY\nWho's *there*?\n\nI/E. CAR - CONTINUOUS\n\nRAIN on the windshield.\n"
    )
    assert [s.heading for s in script.scenes] == ["int. kitchen - morning", "I/E. CAR - CONTINUOUS"]
    assert script.scenes[1].int_ext == "I/E"
    kitchen = script.scenes[0].elements
    assert isinstance(kitchen[0], Action) and kitchen[0].text == "BANG. The door opens."
    assert isinstance(kitchen[1], Dialogue) and kitchen[1].text == "Who's there?"
    assert not script.warnings


def test_an_upper_case_line_without_dialogue_after_it_is_action_not_a_character() -> None:
    script = parse_fountain("EXT. FIELD - DAY\n\nTHE WIND HOWLS.\n\nNothing moves.\n")
    assert [type(e).__name__ for e in script.scenes[0].elements] == ["Action", "Action"]


def test_a_script_without_scene_headings_is_one_scene_with_a_warning() -> None:
    script = parse_fountain("She opens the door.\n\nBOB\nHello.\n")
    assert len(script.scenes) == 1 and script.scenes[0].heading == ""
    assert script.warnings and "no scene headings" in script.warnings[0]
