# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for the render-ready and recipe texts of the VSE (English -> Korean), merged by
`blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    # -- the VSE panel and its operators (blender_addon/editorial/render_ready.py)
    "Render ready shots": "준비된 샷 렌더",
    "Queue the recipe for every confirmed shot ready to render, or only the selected strips' shots": "렌더 준비가 된 모든 확정 샷에, 또는 선택한 스트립의 샷에만 레시피를 대기열에 넣습니다",
    "Refresh recipes": "레시피 새로 고침",
    "Load the project's render recipes again from the server": "프로젝트의 렌더 레시피를 서버에서 다시 불러옵니다",
    "Clear finished": "끝난 항목 지우기",
    "Stop listing the shots whose render jobs have all ended": "렌더 작업이 모두 끝난 샷을 목록에서 뺍니다",
    "No render jobs are followed": "따라가는 렌더 작업이 없습니다",
    "Recipe": "레시피",
    "The recipe to queue for each shot": "각 샷에 대기열로 넣을 레시피",
    "Each shot's recipe": "샷마다 정한 레시피",
    "The recipe chosen on each shot, else the project's default": "각 샷에 정한 레시피, 없으면 프로젝트 기본값",
    "Loading recipes": "레시피 불러오는 중",
    "Queueing ready shots": "준비된 샷을 대기열에 넣는 중",
    "Loading the render": "렌더 불러오는 중",
    "Render result": "렌더 결과",
    "Log in and pick a project to render its ready shots": "준비된 샷을 렌더하려면 로그인하고 프로젝트를 고르세요",
    "Only the selected strips' shots ({count})": "선택한 스트립의 샷만 ({count}개)",
    "Every confirmed shot of the project": "프로젝트의 모든 확정 샷",
    "Render jobs: {active} running or queued": "렌더 작업: {active}개 실행 중 또는 대기 중",
    "{shot}: {done}/{total} steps": "{shot}: {done}/{total} 단계",
    "{stage} {percent}%": "{stage} {percent}% 진행",
    "{count} failed or cancelled": "{count}개 실패 또는 취소",
    "shows {version}": "{version} 표시 중",
    "{strip} is gone; {version} was not put in": "{strip}이(가) 없어 {version}을(를) 넣지 않았습니다",
    "{shot}: {version} from the farm is in the edit": "{shot}: 팜에서 온 {version}이(가) 편집에 들어갔습니다",
    "{shot}: {version} from the farm is ready": "{shot}: 팜에서 온 {version}이(가) 준비되었습니다",
    # -- the project's auto_render checkbox (blender_addon/editorial/render_ready.py)
    "Render automatically": "자동으로 렌더",
    "Queue a shot's recipe as soon as its first frame is approved (the project's auto_render; a director or an admin may change it)": "샷의 첫 프레임이 승인되자마자 그 레시피를 대기열에 넣습니다 (프로젝트의 auto_render; 감독이나 관리자가 바꿀 수 있음)",
    "Saving automatic renders": "자동 렌더 설정 저장 중",
    "{project}: shots render when their first frame is approved": "{project}: 첫 프레임이 승인되면 샷을 렌더합니다",
    "{project}: shots render only when asked": "{project}: 요청할 때만 샷을 렌더합니다",
    # -- the shot's recipe in the Shot details form (blender_addon/shots)
    "Render recipe": "렌더 레시피",
    "Project's recipe": "프로젝트 레시피",
    "No recipe of its own: the project's default recipe": "샷 자체 레시피 없음: 프로젝트 기본 레시피",
    # -- the server's answer (render_ready_core.report_lines, REASONS)
    "Render ready: {queued} shots queued, {skipped} skipped": "준비된 샷 렌더: {queued}개 대기열에 넣음, {skipped}개 건너뜀",
    "{shot} skipped: {reason}": "{shot} 건너뜀: {reason}",
    "the project is not confirmed yet": "프로젝트가 아직 확정되지 않았습니다",
    "the shot is omitted": "제외된 샷입니다",
    "no approved first frame": "승인된 첫 프레임이 없습니다",
    "no recipe chosen (set the shot's or the project's render_recipe)": "정한 레시피가 없습니다 (샷이나 프로젝트의 render_recipe를 설정하세요)",
    "no such shot in this project": "이 프로젝트에 그런 샷이 없습니다",
    "a render is already queued or running (job {job})": "렌더가 이미 대기 중이거나 실행 중입니다 (작업 {job})",
    "it has a render ({render})": "이미 렌더가 있습니다 ({render})",
}
