# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for the shot cost panel's texts (English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    "Shot cost": "샷 비용",
    "Refresh cost": "비용 새로 고침",
    "Load the active strip's shot's GPU time and takes again from the server": "활성 스트립 샷의 GPU 시간과 테이크 수를 서버에서 다시 불러옵니다",
    "Log in to see the shot's cost": "샷 비용을 보려면 로그인하세요",
    "Select a strip of the edit to see its shot's cost": "샷 비용을 보려면 편집의 스트립을 선택하세요",
    "Loading…": "불러오는 중…",
    "Loading the shot's cost": "샷 비용 불러오는 중",
    "The shot's cost could not be loaded": "샷 비용을 불러오지 못했습니다",
    "GPU time: {time}": "GPU 시간: {time}",
    "Takes: {count}": "테이크: {count}개",
    "Jobs: {jobs}, retries: {retries}": "작업: {jobs}개, 재시도: {retries}회",
    "{seconds} s": "{seconds}초",
    "{minutes} min": "{minutes}분",
    "{hours} h {minutes} min": "{hours}시간 {minutes}분",
    # -- the project's GPU budget warning pushed by the server (project.budget_warning)
    "{project}: {level} of the GPU budget used ({used} of {hours} h)": "{project}: GPU 예산의 {level} 사용 ({hours}시간 중 {used}시간)",
}
