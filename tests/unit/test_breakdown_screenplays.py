"""What real screenplays do that a first parser gets wrong: notes in scene headings, joint and extended
cues, voice-overs, apostrophes, edit notes, emphasis and the title page — in Fountain and in Korean.

The scripts under tests/data/breakdown/lighthouse_signal* were written for these tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync_server.breakdown.deterministic import breakdown_script
from sync_server.breakdown.draft import DraftContent
from sync_server.breakdown.formats import title_page
from sync_server.breakdown.fountain import parse_fountain
from sync_server.breakdown.korean import parse_korean
from sync_server.breakdown.llm_schema import check_reply, merge_replies
from sync_server.breakdown.names import display_name
from sync_server.breakdown.script import Dialogue

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
FOUNTAIN = (DATA / "lighthouse_signal.fountain").read_text(encoding="utf-8")
KOREAN = (DATA / "lighthouse_signal_ko.txt").read_text(encoding="utf-8")


def _fountain() -> DraftContent:
    return breakdown_script(parse_fountain(FOUNTAIN))


def _korean() -> DraftContent:
    return breakdown_script(parse_korean(KOREAN))


def _names(content: DraftContent, refs: list[str]) -> list[str]:
    by_id = {c.id: c.name for c in content.characters}
    return [by_id[r] for r in refs]


def _subjects(content: DraftContent) -> dict[str, list[str]]:
    return {s.id: _names(content, [x.character_ref for x in s.subjects]) for s in content.shots}


@pytest.mark.parametrize(
    ("heading", "place", "time", "notes"),
    [
        ("WILL'S BEDROOM - NIGHT (1973)", "WILL'S BEDROOM", "NIGHT", ["1973"]),
        ("KITCHEN - CONTINUOUS", "KITCHEN", "", ["CONTINUOUS"]),
        ("LIGHTHOUSE - NIGHT [LATER]", "LIGHTHOUSE", "NIGHT", ["LATER"]),
        ("LIGHTHOUSE - DAY - PRESENT", "LIGHTHOUSE", "DAY", ["PRESENT"]),
        ("CAR (MOVING) - DAY", "CAR", "DAY", ["MOVING"]),
        ("HOUSE - UPSTAIRS HALL - LATE NIGHT", "HOUSE - UPSTAIRS HALL", "NIGHT", []),
        ("DINER -- MOMENTS LATER", "DINER", "", ["MOMENTS LATER"]),
        ("BAR - FLASHBACK", "BAR", "", ["FLASHBACK"]),
        ("OFFICE — DUSK", "OFFICE", "DUSK", []),
        ("등대 앞 - 해질녘 (1973년)", "등대 앞", "해질녘", ["1973년"]),
        ("태오의 방 - 밤 (회상)", "태오의 방", "밤", ["회상"]),
        ("부엌 - 연속", "부엌", "", ["연속"]),
        ("등대 - 밤 [잠시 후]", "등대", "밤", ["잠시 후"]),
        ("학교 복도 낮", "학교 복도", "낮", []),
        ("골목길/밤", "골목길", "밤", []),
    ],
)
def test_a_heading_note_is_never_the_time_of_day(
    heading: str, place: str, time: str, notes: list[str]
) -> None:
    korean = any("가" <= ch <= "힣" for ch in heading)
    script = (
        parse_korean(f"S#1. {heading}\n\n비.\n") if korean else parse_fountain(f"INT. {heading}\n\nRain.\n")
    )
    (scene,) = script.scenes
    assert (scene.location, scene.time_of_day, scene.notes) == (place, time, notes)


def test_scenes_keep_their_place_and_take_the_time_of_the_scene_they_continue() -> None:
    script = parse_fountain(FOUNTAIN)
    assert [(s.int_ext, s.location, s.time_of_day, s.notes) for s in script.scenes] == [
        ("EXT", "LIGHTHOUSE", "DUSK", ["1973"]),
        ("INT", "THEO’S BEDROOM", "NIGHT", ["1973"]),
        ("INT", "KITCHEN", "NIGHT", ["CONTINUOUS"]),  # goes on from the bedroom at night
        ("EXT", "LIGHTHOUSE", "NIGHT", ["LATER"]),
        ("EXT", "LIGHTHOUSE", "DAY", ["PRESENT"]),
    ]
    content = _fountain()
    assert [s.name for s in content.scenes] == [
        "Lighthouse - Dusk (1973)",
        "Theo’s Bedroom - Night (1973)",
        "Kitchen - Night (Continuous)",
        "Lighthouse - Night (Later)",
        "Lighthouse - Day (Present)",
    ]
    assert [(e.name, e.time_of_day) for e in content.environments] == [
        ("Lighthouse (Dusk)", "Dusk"),
        ("Theo’s Bedroom", "Night"),
        ("Kitchen", "Night"),
        ("Lighthouse (Night)", "Night"),
        ("Lighthouse (Day)", "Day"),
    ]
    korean = _korean()
    assert [s.name for s in korean.scenes] == [
        "등대 앞 - 해질녘 (1973년)",
        "태오의 방 - 밤 (회상)",
        "부엌 - 밤 (연속)",
        "등대 - 밤 (잠시 후)",
        "등대 - 낮",
    ]
    assert [e.name for e in korean.environments] == ["등대 앞", "태오의 방", "부엌", "등대 (밤)", "등대 (낮)"]


def test_a_joint_cue_speaks_for_both_known_characters_and_is_no_new_character() -> None:
    content = _fountain()
    # `MR. & MRS. HALE` is one speaker: neither part is a character of this script.
    assert [(c.name, c.lines) for c in content.characters] == [
        ("Theo", 3),
        ("Maya", 4),
        ("Dad", 3),
        ("Mr. & Mrs. Hale", 1),
    ]
    kitchen = {s.id: s for s in content.shots}["SHT-003-01"]
    assert kitchen.dialogue.splitlines()[1] == "Theo & Dad: Shoes off!"
    assert _subjects(content)["SHT-003-02"][:2] == ["Theo", "Maya"]  # `THEO & MAYA` speak on screen
    korean = _korean()
    assert [(c.name, c.lines) for c in korean.characters] == [("태오", 2), ("마야", 2), ("아빠", 2)]
    assert _subjects(korean)["SHT-003-01"] == ["태오", "아빠"]


def test_cue_extensions_are_stripped_and_the_speaker_is_one_character() -> None:
    (bedroom,) = [s for s in parse_fountain(FOUNTAIN).scenes if "BEDROOM" in s.heading]
    said = [(d.character, d.extension) for d in bedroom.elements if isinstance(d, Dialogue)]
    assert said == [("MAYA", "V.O."), ("THEO", "INTO PHONE"), ("MAYA", "ON PHONE")]  # (CONT'D) dropped
    korean = [
        (d.character, d.extension)
        for s in parse_korean(KOREAN).scenes
        for d in s.elements
        if isinstance(d, Dialogue)
    ]
    assert korean == [
        ("마야", "V.O"),
        ("태오", "전화"),
        ("아빠", "E"),
        ("태오와 아빠", ""),
        ("마야", "O.S."),
    ]
    script = parse_fountain(
        "INT. FLAT - DAY\n\nJo waits.\n\nJO (O.C.) (CONT’D)\nHello?\n\nJO (PRELAP)\nLater.\n\n"
        "_JO_\nAgain.\n\nJO (V.O.)\nStill here.\n"
    )
    assert [(c.name, c.lines) for c in breakdown_script(script).characters] == [("Jo", 4)]


def test_a_voice_over_or_off_screen_speaker_is_not_a_subject_of_the_shot() -> None:
    subjects = _subjects(_fountain())
    assert subjects["SHT-002-01"] == ["Theo"]  # MAYA (V.O.) speaks over Theo at the radio
    assert subjects["SHT-002-02"] == ["Theo"]  # MAYA (ON PHONE) is heard through the phone
    assert subjects["SHT-003-01"] == ["Dad", "Theo"]  # MAYA (O.S.) is not in the kitchen yet
    assert subjects["SHT-003-02"] == ["Theo", "Maya"]  # MR. & MRS. HALE (O.S.) are never seen
    assert subjects["SHT-004-01"] == ["Theo", "Maya"]  # DAD (PRELAP) is heard before his scene
    korean = _subjects(_korean())
    assert korean["SHT-002-01"] == ["태오"]  # 마야(V.O)
    assert korean["SHT-002-02"] == ["태오"]  # 아빠(E)
    assert korean["SHT-003-01"] == ["태오", "아빠"]  # 마야(O.S.)
    # Named in the action, a voice-over speaker is in the picture after all.
    seen = breakdown_script(parse_fountain("INT. FLAT - DAY\n\nJo reads.\n\nJO (V.O.)\nDear Sam.\n"))
    assert _subjects(seen) == {"SHT-001-01": ["Jo"]}


def test_capitalised_names_keep_their_apostrophes_straight_or_curly() -> None:
    assert display_name("WILL'S BEDROOM") == "Will's Bedroom"
    assert display_name("THEO’S BEDROOM") == "Theo’s Bedroom"
    assert display_name("O'BRIEN") == "O'Brien"
    assert display_name("D’ARTAGNAN") == "D’Artagnan"
    assert display_name("I'M HOME") == "I'm Home"
    assert display_name("THE KIDS' ROOM") == "The Kids' Room"
    content = breakdown_script(parse_fountain("INT. WILL'S BEDROOM - NIGHT (1973)\n\nDark.\n"))
    assert content.environments[0].name == "Will's Bedroom"
    assert content.scenes[0].name == "Will's Bedroom - Night (1973)"


def test_transitions_and_title_cards_are_notes_on_a_neighbouring_shot_never_shots() -> None:
    content = _fountain()
    assert [(s.id, s.camera_notes) for s in content.shots] == [
        ("SHT-001-01", 'FADE IN:; SUPER: "Pine Point, Maine"'),  # opens the first shot; over its picture
        ("SHT-002-01", ""),
        ("SHT-002-02", "CUT TO:"),
        ("SHT-003-01", ""),
        ("SHT-003-02", ""),
        ("SHT-004-01", "CUT TO BLACK."),
        ("SHT-005-01", "TITLE OVER: Twenty years later; FADE OUT."),  # over the picture that follows
    ]
    assert not {"Title Over", "Super", "Fade In", "Cut To Black."} & {c.name for c in content.characters}
    korean = _korean()
    assert [(s.id, s.camera_notes) for s in korean.shots] == [
        ("SHT-001-01", "F.I.; 자막: 1973년, 솔섬"),
        ("SHT-002-01", ""),
        ("SHT-002-02", ""),
        ("SHT-003-01", ""),
        ("SHT-004-01", "암전"),
        ("SHT-005-01", "자막: 20년 후; F.O."),  # a subtitle after a cut belongs to what comes next
    ]
    # Without a title page, a script may open on `FADE IN:`; a card's text may follow on its own lines.
    script = parse_fountain(
        "FADE IN:\nEXT. SEA - DAWN\n\nGulls.\n\nSUPER:\nThe North Sea\n\nFADE TO BLACK.\n"
    )
    assert not script.title_page
    (only,) = breakdown_script(script).shots
    assert only.camera_notes == "FADE IN:; SUPER: The North Sea; FADE TO BLACK."


def test_emphasis_markers_are_removed_from_names_and_text() -> None:
    for content in (_fountain(), _korean()):
        text = json.dumps(content.model_dump(mode="json"), ensure_ascii=False)
        assert "*" not in text and "_**" not in text and " _" not in text
    shots = {s.id: s for s in _fountain().shots}
    assert shots["SHT-002-02"].dialogue.splitlines() == [
        "Theo (INTO PHONE): Maya? Where are you?",
        "Maya (ON PHONE): At the lighthouse. Come now.",
    ]
    assert shots["SHT-004-01"].action.startswith("Maya and Theo climb")
    assert {s.id: s for s in _korean().shots}["SHT-004-01"].action.startswith("마야와 태오가")
    bold = breakdown_script(parse_fountain("INT. ROOM - DAY\n\nHe waits.\n\n**BOB**\n_Fine._\n"))
    assert [c.name for c in bold.characters] == ["Bob"] and bold.shots[0].dialogue == "Bob: Fine."
    # Underscores inside words and escaped asterisks are text, not emphasis.
    plain = parse_fountain("INT. ROOM - DAY\n\nShe types my_file_name and 2\\*3.\n")
    assert plain.scenes[0].elements[0].text == "She types my_file_name and 2*3."


def test_the_title_page_is_kept_on_the_draft() -> None:
    page = _fountain().title_page
    assert page.model_dump() == {
        "title": "THE LIGHTHOUSE SIGNAL\nA test screenplay",
        "credit": "Written by",
        "author": "Hana Seo",
        "source": 'Based on the radio play "Static" by Hana Seo',
        "draft_date": "1 December 2026",
        "contact": "Hana Seo\nPine Point Writers' Room",
        "copyright": "",
        "notes": "",
        "other": {},
    }
    assert _fountain().title == "THE LIGHTHOUSE SIGNAL A test screenplay"
    korean = _korean()
    assert (korean.title, korean.title_page.author, korean.title_page.source) == (
        "등대의 신호",
        "서하나",
        "라디오 드라마 「잡음」",
    )
    # The title page is not mistaken for speakers, and the cast list after it is still read.
    assert [c.name for c in korean.characters] == ["태오", "마야", "아빠"]
    assert korean.characters[0].description == "12세 소년, 줄무늬 잠옷"
    # The LLM engine reads the title page the same way.
    assert title_page(FOUNTAIN, "fountain") == page.model_dump(exclude_defaults=True)
    assert title_page(KOREAN, "korean")["author"] == "서하나"


def _llm_reply() -> dict[str, object]:
    def character(name: str) -> dict[str, object]:
        return {"name": name, "aliases": [], "description": "", "clothing": [], "role": ""}

    def shot(number: int, *names: str) -> dict[str, object]:
        return {
            "scene": 1,
            "shot_number": number,
            "description": "d",
            "action": "a",
            "dialogue": "",
            "characters": [{"name": n, "clothing": ""} for n in names],
            "suggested_camera": "",
            "suggested_duration": 2,
            "environment_ref": "E1",
        }

    return {
        "characters": [
            character("THEO"),
            character("MAYA (V.O.)"),
            character("Maya"),
            character("Theo & Maya"),
        ],
        "environments": [
            {"id": "E1", "location": "bedroom", "time_of_day": "night", "weather": "", "mood": ""}
        ],
        "scenes": [{"number": 1, "name": "s", "description": "", "environment_ref": "E1"}],
        "shots": [shot(1, "THEO", "Maya (V.O.)"), shot(2, "Theo & Maya"), shot(3, "MAYA (CONT'D)")],
    }


def test_llm_names_get_the_same_cue_rules() -> None:
    content = merge_replies([check_reply(_llm_reply())])
    assert [(c.name, c.aliases) for c in content.characters] == [("Theo", []), ("Maya", [])]
    assert [[x.character_ref for x in s.subjects] for s in content.shots] == [
        ["CHR-001"],  # Maya (V.O.) is heard only
        ["CHR-001", "CHR-002"],  # `Theo & Maya` is both of them
        ["CHR-002"],
    ]


def test_page_break_marks_and_group_cues_are_neither_shots_nor_characters() -> None:
    # As a PDF-to-Fountain conversion leaves them: (MORE) and CONTINUED: at a page break.
    script = parse_fountain(
        "INT. HALL - NIGHT\n\nTheo and Maya stand at the door.\n\nTHEO\nWe should go.\n(MORE)\n\n"
        "CONTINUED:\n\nTHEO (CONT'D)\nNow.\n\nBOTH\nGo!\n\nINTERCUT WITH:\n\nEXT. STREET - NIGHT\n\nRain.\n"
    )
    content = breakdown_script(script)
    assert [c.name for c in content.characters] == ["Theo"]
    assert [(s.dialogue, s.camera_notes) for s in content.shots] == [
        ("Theo: We should go.\nTheo: Now.\nBoth: Go!", "INTERCUT WITH:"),
        ("", ""),
    ]
    korean = breakdown_script(
        parse_korean("S#1. 방 - 밤\n\n태오와 마야가 문 앞에 선다.\n태오: 가자.\n모두: 가자!\n")
    )
    assert [c.name for c in korean.characters] == ["태오"]
