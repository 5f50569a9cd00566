"""Korean screenplay conventions, format detection, chunking by scene and the deterministic engine's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_server.breakdown.camera import PresetInfo, choose_preset
from sync_server.breakdown.deterministic import breakdown_script, display_name
from sync_server.breakdown.formats import chunks, detect_format
from sync_server.breakdown.korean import parse_korean
from sync_server.breakdown.llm_schema import InvalidReply, LlmBreakdown, check_reply, merge_replies
from sync_server.breakdown.script import Dialogue, Transition

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
KOREAN = (DATA / "night_alley_ko.txt").read_text(encoding="utf-8")
FOUNTAIN = (DATA / "night_alley.fountain").read_text(encoding="utf-8")
PROSE = (DATA / "rooftop_prose.txt").read_text(encoding="utf-8")
PRESETS = [
    PresetInfo("Establishing Extreme Wide", "extreme wide shot", "eye level", "static"),
    PresetInfo("Wide Master", "wide shot", "eye level", "static"),
    PresetInfo("Medium Shot", "medium shot", "eye level", "static"),
    PresetInfo("Medium Close-Up", "medium close-up", "eye level", "static"),
    PresetInfo("Close-Up", "close-up", "eye level", "static"),
    PresetInfo("Over The Shoulder", "over-the-shoulder", "eye level", "static"),
    PresetInfo("Two Shot", "two shot", "eye level", "static"),
    PresetInfo("Tracking Walk And Talk", "medium shot", "eye level", "tracking"),
    PresetInfo("Crane Up Reveal", "wide shot", "high angle", "crane up"),
    PresetInfo("Low Angle Heroic", "medium shot", "low angle", "static"),
]


def test_korean_headings_title_cast_dialogue_narration_and_transitions() -> None:
    script = parse_korean(KOREAN)
    assert script.title == "골목길의 밤"
    assert script.cast == {
        "리나": "20대 여성, 짧은 검은 머리, 날카로운 눈매",
        "민수": "30대 남성, 안경, 지친 표정",
    }
    assert [(s.number, s.location, s.time_of_day) for s in script.scenes] == [
        ("1", "골목길", "밤"),
        ("2", "옥상", "새벽"),
    ]
    alley, rooftop = script.scenes
    said = [
        (d.character, d.parenthetical, d.extension, d.text) for d in alley.elements if isinstance(d, Dialogue)
    ]
    assert said == [
        ("민수", "", "", "왜 따라와?"),
        ("리나", "작게", "", "이제 그만 도망쳐."),
        ("민수", "", "E", "싫어."),
    ]
    assert [t.text for t in alley.elements if isinstance(t, Transition)] == ["컷"]
    narration = [d for d in rooftop.elements if isinstance(d, Dialogue)]
    assert [(d.character, d.extension) for d in narration] == [("NA", "NA")]


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("S#12. 편의점 앞 - 낮", ("12", "", "편의점 앞", "낮")),
        ("S# 3 옥상 (새벽)", ("3", "", "옥상", "새벽")),
        ("#4. 지하철/밤", ("4", "", "지하철", "밤")),
        ("씬 5. 리나의 방 (실내) - 아침", ("5", "실내", "리나의 방", "아침")),
        ("S#7A. 골목길", ("7A", "", "골목길", "")),
    ],
)
def test_korean_scene_heading_variants(heading: str, expected: tuple[str, str, str, str]) -> None:
    (scene,) = parse_korean(f"{heading}\n\n리나가 걷는다.\n").scenes
    assert (scene.number, scene.int_ext, scene.location, scene.time_of_day) == expected


def test_a_sentence_or_a_direction_label_with_a_colon_is_action_not_dialogue() -> None:
    (scene,) = parse_korean(
        "S#1. 방 - 밤\n\n시계는 새벽 두 시를 가리킨다. 그때: 전화가 울린다.\n\n"
        "자막: 1999년 서울\n\n효과음: 천둥\n"
    ).scenes
    # A subtitle (자막) is a note on the shot, not a speaker and not a shot.
    assert [type(e).__name__ for e in scene.elements] == ["Action", "Transition", "Action"]


def test_format_detection() -> None:
    assert detect_format(FOUNTAIN) == "fountain"
    assert detect_format(KOREAN) == "korean"
    assert detect_format(PROSE) == "prose"
    assert detect_format("She walks in.\n\nBOB\nHi.\n", "scene.fountain") == "fountain"


def test_chunks_cut_at_scene_headings_and_leave_out_the_boneyard_and_notes() -> None:
    parts = chunks(FOUNTAIN, "fountain", 500)
    assert len(parts) == 2
    assert parts[0].startswith("Title: Night Alley") and "EXT. ALLEY - NIGHT" in parts[0]
    assert parts[1].startswith(".ROOFTOP - DAWN") and parts[1].endswith(">THE END<")
    assert "POLICE STATION" not in "".join(parts) and "VFX" not in "".join(parts)
    korean = chunks(KOREAN, "korean", 300)
    assert len(korean) == 2 and korean[1].startswith("S#2. 옥상 (새벽)")
    assert "".join(korean).replace("\n", "") == KOREAN.replace("\n", "")
    prose = chunks(PROSE * 5, "prose", 500)
    assert len(prose) >= 5 and all(len(p) <= 500 for p in prose)


def test_display_names() -> None:
    assert display_name("RINA") == "Rina"
    assert display_name("DR. KIM") == "Dr. Kim"
    assert display_name("O'BRIEN") == "O'Brien"
    assert display_name("McCLANE") == "McCLANE"
    assert display_name("리나") == "리나"


def test_the_deterministic_engine_on_a_korean_script() -> None:
    content = breakdown_script(parse_korean(KOREAN), PRESETS)
    assert [(c.id, c.name, c.lines) for c in content.characters] == [
        ("CHR-001", "리나", 1),
        ("CHR-002", "민수", 2),
    ]
    assert [(e.id, e.name, e.time_of_day, e.weather) for e in content.environments] == [
        ("ENV-001", "골목길", "밤", "rain"),
        ("ENV-002", "옥상", "새벽", ""),
    ]
    shots = content.shots
    assert [s.id for s in shots] == [
        "SHT-001-01",
        "SHT-001-02",
        "SHT-001-03",
        "SHT-001-04",
        "SHT-002-01",
        "SHT-002-02",
    ]
    assert [[x.character_ref for x in s.subjects] for s in shots] == [
        [],
        ["CHR-001"],
        ["CHR-002"],
        ["CHR-001", "CHR-002"],
        [],
        ["CHR-001"],
    ]
    assert [s.preset for s in shots] == [
        "Establishing Extreme Wide",
        "Tracking Walk And Talk",
        "Close-Up",
        "Two Shot",  # 민수(E) is heard, not seen: one speaker on screen, two people in the action
        "Crane Up Reveal",
        "Close-Up",
    ]
    assert shots[3].camera_notes == "컷"
    assert shots[3].dialogue == "리나 (작게): 이제 그만 도망쳐.\n민수 (E): 싫어."
    assert all(1.0 <= s.duration_s <= 20.0 and s.duration_s * 2 == int(s.duration_s * 2) for s in shots)
    assert content.problems() == []


def test_the_same_place_at_two_times_is_two_environments() -> None:
    script = parse_korean(
        "S#1. 골목길 - 밤\n\n비가 온다.\n\nS#2. 골목길 - 낮\n\n해가 뜬다.\n\nS#3. 골목길 - 밤\n\n다시 밤.\n"
    )
    content = breakdown_script(script)
    assert [e.name for e in content.environments] == ["골목길 (밤)", "골목길 (낮)"]
    assert [s.environment_ref for s in content.scenes] == ["ENV-001", "ENV-002", "ENV-001"]


def test_longer_action_and_more_dialogue_make_longer_shots() -> None:
    short = breakdown_script(parse_korean("S#1. 방\n\n문이 열린다.\n")).shots[0]
    long = breakdown_script(
        parse_korean(
            "S#1. 방\n\n문이 열리고 리나가 천천히 들어와 방 안을 둘러본다.\n리나: " + "정말 " * 30 + "\n"
        )
    ).shots[0]
    assert short.duration_s < long.duration_s <= 20.0


def test_camera_words_pick_presets() -> None:
    assert choose_preset("tracking shot, low angle", PRESETS) == "Tracking Walk And Talk"
    assert choose_preset("클로즈업", PRESETS) == "Close-Up"
    assert choose_preset("low angle", PRESETS) == "Low Angle Heroic"
    assert choose_preset("close-up", PRESETS) == "Close-Up"
    assert choose_preset("wide master", PRESETS) == "Wide Master"
    assert choose_preset("something else entirely", PRESETS) is None
    assert choose_preset("Two Shot", PRESETS) == "Two Shot"


def _reply(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "characters": [{"name": "Rina", "aliases": [], "description": "", "clothing": [], "role": ""}],
        "environments": [
            {"id": "E1", "location": "alley", "time_of_day": "night", "weather": "", "mood": ""}
        ],
        "scenes": [{"number": 1, "name": "s", "description": "", "environment_ref": "E1"}],
        "shots": [
            {
                "scene": 1,
                "shot_number": 1,
                "description": "d",
                "action": "a",
                "dialogue": "",
                "characters": [{"name": "rina", "clothing": "red coat"}],
                "suggested_camera": "close-up",
                "suggested_duration": 2.2,
                "environment_ref": "E1",
            }
        ],
    }
    base.update(overrides)
    return base


def test_llm_replies_are_checked_for_references_not_only_shape() -> None:
    assert isinstance(check_reply(_reply()), LlmBreakdown)
    with pytest.raises(InvalidReply, match="does not match the schema"):
        check_reply({**_reply(), "extra": 1})
    with pytest.raises(InvalidReply, match="shots.0.scene: no scene 1"):
        check_reply(_reply(scenes=[{"number": 2, "name": "s", "description": "", "environment_ref": "E1"}]))
    with pytest.raises(InvalidReply, match="scenes.0.environment_ref: no environment 'E9'"):
        check_reply(_reply(scenes=[{"number": 1, "name": "s", "description": "", "environment_ref": "E9"}]))


def test_merged_replies_renumber_scenes_and_merge_characters_and_places() -> None:
    first = check_reply(_reply())
    second = check_reply(
        _reply(
            characters=[
                {"name": "리나", "aliases": ["RINA"], "description": "tall", "clothing": [], "role": ""}
            ]
        )
    )
    with pytest.raises(InvalidReply):
        check_reply(_reply(characters=[]))
    content = merge_replies([first, second], PRESETS)
    assert [c.name for c in content.characters] == ["Rina"] and content.characters[0].aliases == ["리나"]
    assert content.characters[0].description == "tall" and content.characters[0].clothing == ["red coat"]
    assert [e.id for e in content.environments] == ["ENV-001"]
    assert [s.id for s in content.scenes] == ["SCN-001", "SCN-002"]
    assert [(s.id, s.duration_s, s.preset) for s in content.shots] == [
        ("SHT-001-01", 2.0, "Close-Up"),
        ("SHT-002-01", 2.0, "Close-Up"),
    ]
    assert content.problems() == []
