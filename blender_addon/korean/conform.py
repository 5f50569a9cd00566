# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for "Conform this edit" in the VSE (English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    # -- the VSE panel and its operator (blender_addon/editorial/conform.py)
    "Conform": "컨폼",
    "Conform this edit": "이 편집 컨폼",
    "Conform the edit as the VSE shows it: each strip's version, trimmed as the strip is, in strip order": "VSE에 보이는 그대로 편집을 컨폼합니다: 스트립마다 그 버전을, 스트립처럼 잘라서, 스트립 순서대로",
    "Approved versions only": "승인된 버전만",
    "Refuse a strip whose version is not approved (off: conform what the strips show)": "버전이 승인되지 않은 스트립은 거부합니다 (끄면 스트립에 보이는 것을 컨폼)",
    "Codec": "코덱",
    "The conform's picture codec": "컨폼의 영상 코덱",
    "H.264 codec": "H.264 코덱",
    "H.265 codec": "H.265 코덱",
    "ProRes 422 HQ codec": "ProRes 422 HQ 코덱",
    "H.264 in a .mov": ".mov 안의 H.264",
    "H.265 in a .mov": ".mov 안의 H.265",
    "ProRes 422 HQ in a .mov": ".mov 안의 ProRes 422 HQ",
    "Log in and pick a project to conform its edit": "편집을 컨폼하려면 로그인하고 프로젝트를 고르세요",
    "{count} strips, {frames} frames, in strip order": "스트립 {count}개, {frames}프레임, 스트립 순서대로",
    "Sending the edit to conform": "컨폼할 편집을 보내는 중",
    "Conform {number} queued": "컨폼 {number}을(를) 대기열에 넣었습니다",
    "Conform {number} is done": "컨폼 {number}이(가) 끝났습니다",
    "Conform {number} failed: {error}": "컨폼 {number} 실패: {error}",
    # -- what the panel shows (blender_addon/editorial/conform_core.py)
    "{strip} shows no version: update its media first": "{strip}에 버전이 없습니다: 먼저 미디어를 업데이트하세요",
    "{strip} shows a still, not a movie": "{strip}은(는) 동영상이 아니라 정지 이미지입니다",
    "{first} and {second} overlap": "{first}와(과) {second}이(가) 겹칩니다",
    "The edit has no strips: build it first": "편집에 스트립이 없습니다: 먼저 편집을 만드세요",
    "Strip {strip}: {message}": "스트립 {strip}: {message}",
    "Field {field}: {message}": "항목 {field}: {message}",
    "The conform was refused:": "컨폼이 거부되었습니다:",
    "Conform {number}: {shots} cuts, {frames} frames": "컨폼 {number}: 컷 {shots}개, {frames}프레임",
    "Waiting for a farm agent": "팜 에이전트를 기다리는 중",
    "{percent}% done {stage}": "{percent}% 완료 {stage}",
    "Done: {name}": "완료: {name}",
    "Failed: {error}": "실패: {error}",
}
