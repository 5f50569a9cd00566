# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for the `camera` feature's texts (English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    # -- panel
    "Camera from first frame": "첫 프레임에서 카메라",
    "Hold for re-solve": "다시 풀 때 고정",
    "{case}: {lens} mm, pitch {pitch}°, roll {roll}°": "{case}: {lens} mm, 피치 {pitch}°, 롤 {roll}°",
    "Confidence {value}": "신뢰도 {value}",
    "Focal length from the preset": "초점 거리는 프리셋에서 가져옴",
    "Three vanishing points": "소실점 세 개",
    "Two vanishing points": "소실점 두 개",
    "One vanishing point": "소실점 한 개",
    "No vanishing points": "소실점 없음",
    # -- settings
    "Hold focal length": "초점 거리 고정",
    "Re-solve with this focal length held fixed instead of measuring it from the picture": "그림에서 재지 않고 이 초점 거리를 고정한 채 다시 풉니다",
    "Focal length": "초점 거리",
    "The focal length (mm, for the camera's sensor width across the image) held fixed": "고정할 초점 거리 (mm, 카메라 센서 폭이 이미지 가로에 맞을 때)",
    "Hold horizon": "지평선 고정",
    "Re-solve with the horizon held where the two points below put it": "아래 두 점이 정한 위치에 지평선을 고정한 채 다시 풉니다",
    "Horizon at left edge": "왼쪽 가장자리의 지평선",
    "Where the horizon meets the image's left edge (pixels from the top)": "지평선이 이미지 왼쪽 가장자리와 만나는 곳 (위에서부터 픽셀)",
    "Horizon at right edge": "오른쪽 가장자리의 지평선",
    "Where the horizon meets the image's right edge (pixels from the top)": "지평선이 이미지 오른쪽 가장자리와 만나는 곳 (위에서부터 픽셀)",
    "Camera height": "카메라 높이",
    "Height of the camera above the ground (the scene's scale); eye level is 1.6 m": "지면에서 카메라까지의 높이 (씬의 축척). 눈높이는 1.6 m",
    "Show vanishing lines": "소실선 표시",
    "Draw the solve's lines (red X, green Y, blue Z) and the horizon over the camera view": "카메라 뷰 위에 풀이에 쓰인 선(빨강 X, 초록 Y, 파랑 Z)과 지평선을 그립니다",
    # -- solve
    "Solve camera from first frame": "첫 프레임에서 카메라 풀기",
    "Solve the shot camera from its approved first frame and apply it; held corrections stay fixed": "승인된 첫 프레임에서 샷 카메라를 풀어 적용합니다. 고정한 보정 값은 그대로 둡니다",
    "Solve camera": "카메라 풀기",
    "Before camera solve": "카메라 풀기 전",
    "Solving the camera of {shot}": "{shot} 카메라 푸는 중",
    "The shot has no approved first frame to solve the camera from": "카메라를 풀 승인된 첫 프레임이 샷에 없습니다",
    "Camera {camera}: {lens} mm, solved from the picture": "{camera} 카메라: {lens} mm, 그림에서 풀었습니다",
    "Camera {camera}: {lens} mm from the preset; the picture did not determine it: {why}": "{camera} 카메라: 프리셋의 {lens} mm. 그림으로는 정할 수 없었습니다: {why}",
    "Use stored camera": "저장된 카메라 사용",
    "Apply the camera stored on the shot's first frame (the same for every artist), without solving": "샷의 첫 프레임에 이미 저장된 카메라(모든 아티스트에게 같음)를 풀지 않고 적용합니다",
    "Loading the camera of {shot}": "{shot} 카메라 불러오는 중",
    "The first frame has no camera yet: solve it first": "첫 프레임에 아직 카메라가 없습니다. 먼저 푸세요",
    "Clear solve": "풀이 지우기",
    "Forget the solve kept on the scene camera (its lines stop being drawn); the camera stays where it is": "씬 카메라에 저장된 풀이를 지웁니다 (선이 더 이상 그려지지 않음). 카메라는 그대로 둡니다",
    # -- fSpy
    "Import fSpy": "fSpy 가져오기",
    "Set the scene camera from an fSpy project (.fspy): transform, field of view, shift, picture": "fSpy 프로젝트(.fspy)로 씬 카메라를 설정합니다: 변환, 화각, 시프트, 그림",
    "Export fSpy": "fSpy 내보내기",
    "Write the scene camera and its background picture as an fSpy project (.fspy)": "씬 카메라와 배경 그림을 fSpy 프로젝트(.fspy)로 저장합니다",
    "Camera {camera}: {lens} mm from {file}": "{camera} 카메라: {file}에서 {lens} mm",
    "Wrote {file}": "{file} 저장함",
    "Scene {scene} has no camera": "{scene} 씬에 카메라가 없습니다",
    "The scene has no camera": "씬에 카메라가 없습니다",
    # -- Blender's file browser properties of the import/export operators
    "File Path": "파일 경로",
    "Filepath used for importing the file": "가져올 파일의 경로",
    "Filepath used for exporting the file": "내보낼 파일의 경로",
    "Check Existing": "기존 파일 확인",
    "Check and warn on overwriting existing files": "기존 파일을 덮어쓸 때 확인하고 경고합니다",
}
