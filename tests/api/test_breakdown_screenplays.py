"""Real screenplays over the real API: the title page stays on the draft, and a speaker heard in
voice-over or off screen gets no LoRA in the shot's prompt while those on screen do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.api import Api

DATA = Path(__file__).resolve().parents[1] / "data" / "breakdown"
FOUNTAIN = (DATA / "lighthouse_signal.fountain").read_text(encoding="utf-8")
KOREAN = (DATA / "lighthouse_signal_ko.txt").read_text(encoding="utf-8")


def _character(api: Api, pid: str, name: str, lora: str) -> dict[str, Any]:
    response = api.admin.post(
        f"/api/projects/{pid}/characters",
        json={
            "name": name,
            "trigger_words": [f"{lora}_tw"],
            "lora_file": f"loras/{lora}.safetensors",
            "lora_strength": 0.7,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def _loras(api: Api, shot_id: str) -> tuple[list[str], str]:
    response = api.admin.get(f"/api/shots/{shot_id}/prompt", params={"workflow": "flux1_dev_t2i"})
    assert response.status_code == 200, response.text
    body = response.json()
    return sorted(x["name"] for x in body["loras"]), body["positive"]


def test_voice_over_speakers_get_no_lora_and_the_title_page_is_kept(api: Api) -> None:
    project = api.project(fps="24")
    pid = project["id"]
    _character(api, pid, "Theo", "theo_v1")
    _character(api, pid, "Maya", "maya_v1")
    created = api.admin.post(
        f"/api/projects/{pid}/breakdowns",
        json={"text": FOUNTAIN, "source_name": "lighthouse_signal.fountain"},
    )
    assert created.status_code == 201, created.text
    draft = api.admin.get(f"/api/breakdowns/{created.json()['id']}").json()
    content = draft["content"]
    assert content["title_page"] == {
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
    assert [c["name"] for c in content["characters"]] == ["Theo", "Maya", "Dad", "Mr. & Mrs. Hale"]
    assert {draft["matches"][c]["name"] for c in ("CHR-001", "CHR-002")} == {"Theo", "Maya"}
    assert len(content["shots"]) == 7  # FADE IN, SUPER, CUT TO, TITLE OVER, FADE OUT: no shots of their own

    applied = api.admin.post(f"/api/breakdowns/{draft['id']}/apply", json={"revision": draft["revision"]})
    assert applied.status_code == 200, applied.text
    shots = api.admin.get(f"/api/projects/{pid}/shots", params={"sort": "order"}).json()["items"]
    radio = next(s for s in shots if "Maya (V.O.): Theo?" in s["dialogue"])
    loras, positive = _loras(api, radio["id"])
    assert loras == ["theo_v1.safetensors"] and "maya_v1_tw" not in positive and "theo_v1_tw" in positive
    phone = next(s for s in shots if "Maya (ON PHONE)" in s["dialogue"])
    assert _loras(api, phone["id"])[0] == ["theo_v1.safetensors"]
    together = next(s for s in shots if "Theo & Maya: Finally!" in s["dialogue"])
    assert _loras(api, together["id"])[0] == ["maya_v1.safetensors", "theo_v1.safetensors"]
    scenes = api.admin.get(f"/api/projects/{pid}/scenes").json()["items"]
    assert "Theo’s Bedroom - Night (1973)" in [s["name"] for s in scenes]
    environments = api.admin.get(f"/api/projects/{pid}/environments").json()["items"]
    assert {e["name"]: e["time_of_day"] for e in environments}["Kitchen"] == "Night"


def test_a_korean_script_keeps_its_title_page_and_cast(api: Api) -> None:
    project = api.project(fps="24")
    created = api.admin.post(f"/api/projects/{project['id']}/breakdowns", json={"text": KOREAN})
    assert created.status_code == 201, created.text
    content = created.json()["content"]
    assert content["title"] == "등대의 신호"
    page = content["title_page"]
    assert (page["title"], page["author"], page["source"]) == (
        "등대의 신호",
        "서하나",
        "라디오 드라마 「잡음」",
    )
    assert [(c["name"], c["description"]) for c in content["characters"]] == [
        ("태오", "12세 소년, 줄무늬 잠옷"),
        ("마야", "16세 소녀, 노란 우비"),
        ("아빠", "40대 남성, 플란넬 셔츠"),
    ]
    assert [s["name"] for s in content["scenes"]][:3] == [
        "등대 앞 - 해질녘 (1973년)",
        "태오의 방 - 밤 (회상)",
        "부엌 - 밤 (연속)",
    ]
