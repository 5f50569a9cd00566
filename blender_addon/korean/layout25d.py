# ruff: noqa: E501  (a translation table: one entry per line reads better than wrapped strings)
"""Korean for the layout's 2.5D set, layout exports (camera track, characters) and the depth video
(English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    # -- 2.5D set
    "Build 2.5D set": "2.5D 세트 만들기",
    "Build a 2.5D set from the first frame's depth: a mesh in front of the shot camera at the picture's depth, the first frame projected on it, to block characters and props against": "첫 프레임의 깊이로 2.5D 세트를 만듭니다: 샷 카메라 앞, 그림의 깊이에 놓인 메시에 첫 프레임을 투영하여 캐릭터와 소품을 배치할 수 있습니다",
    "Depth image": "깊이 이미지",
    "Depth (Lotus)": "깊이 (Lotus)",
    "Near = white, the value affine in depth (Lotus depth after its invert)": "가까울수록 흰색, 값이 깊이에 선형 (반전한 Lotus 깊이)",
    "Inverse depth": "역깊이",
    "Near = white, the value affine in inverse depth (MiDaS, Depth Anything, the add-on's control images)": "가까울수록 흰색, 값이 역깊이에 선형 (MiDaS, Depth Anything, 애드온의 컨트롤 이미지)",
    "Detail": "세부",
    "Grid quads across the frame": "프레임 가로 방향 격자 면 수",
    "Split at depth jumps": "깊이 단절에서 나누기",
    "Leave out faces whose far corner is this many times as deep as the near one (0: keep all)": "먼 꼭짓점이 가까운 꼭짓점보다 이 배수 이상 깊은 면을 뺍니다 (0: 모두 유지)",
    "Depth file": "깊이 파일",
    "A local depth image instead of the server's": "서버 대신 로컬 깊이 이미지",
    "Picture file": "그림 파일",
    "A local first frame instead of the server's": "서버 대신 로컬 첫 프레임",
    "Log in and set up the shot first, or give a depth file": "먼저 로그인하고 샷을 설정하거나 깊이 파일을 지정하세요",
    "The shot has no depth image yet: queue the first frame's depth on the farm first": "샷에 아직 깊이 이미지가 없습니다: 먼저 팜에서 첫 프레임의 깊이를 요청하세요",
    "2.5D set {name} built": "2.5D 세트 {name}을(를) 만들었습니다",
    "The 2.5D set failed: {error}": "2.5D 세트 실패: {error}",
    "Building 2.5D set": "2.5D 세트를 만드는 중",
    "Scene {scene} has no camera to build the set in front of": "씬 {scene}에 세트를 놓을 카메라가 없습니다",
    "Camera {camera} is not a perspective camera": "카메라 {camera}는 원근 카메라가 아닙니다",
    "{path} is not an image Blender can read": "{path}은(는) Blender가 읽을 수 있는 이미지가 아닙니다",
    # -- layout exports
    "Publish this layout as the shot's next layout version: the .blend, the camera as FBX, Alembic and its per-frame JSON, the characters as Alembic and FBX": "이 레이아웃을 샷의 다음 레이아웃 버전으로 게시합니다: .blend, FBX·Alembic 카메라와 프레임별 JSON, Alembic·FBX 캐릭터",
    "Characters as Alembic and FBX": "Alembic·FBX 캐릭터",
    "The armatures (with what they carry) and proxies, animated, for the render to follow": "렌더가 따라갈 애니메이션된 아마추어(딸린 오브젝트 포함)와 프록시",
    "Character export failed: {error}": "캐릭터 내보내기 실패: {error}",
    "Import characters": "캐릭터 가져오기",
    "Import animated characters (a layout's Alembic or FBX) into a collection of their own": "애니메이션된 캐릭터(레이아웃의 Alembic 또는 FBX)를 별도 컬렉션으로 가져옵니다",
    "Imported {count} objects": "오브젝트 {count}개를 가져왔습니다",
    "{path}: import characters from an .abc or .fbx file": "{path}: 캐릭터는 .abc 또는 .fbx 파일에서 가져오세요",
    "{path} does not exist": "{path}이(가) 없습니다",
    "{path} holds no objects": "{path}에 오브젝트가 없습니다",
    "Playblast the shot with burn-ins, upload it (with the camera's per-frame JSON) as the next playblast version and put the shot in review": "번인을 넣어 샷을 플레이블라스트하고, (카메라의 프레임별 JSON과 함께) 다음 플레이블라스트 버전으로 올린 뒤 샷을 리뷰로 보냅니다",
    # -- depth video
    "Depth video for the render": "렌더용 깊이 비디오",
    "Render the layout's depth video (near = white) at the rate and length the video workflow needs, and upload it as the shot's control version a layout-driven render follows": "레이아웃의 깊이 비디오(가까울수록 흰색)를 비디오 워크플로가 요구하는 프레임 레이트와 길이로 렌더하고, 레이아웃을 따르는 렌더가 쓰는 샷의 컨트롤 버전으로 올립니다",
    "Frame rate": "프레임 레이트",
    "The video workflow's rate (Wan: 16); its video loader cannot resample": "비디오 워크플로의 프레임 레이트 (Wan: 16); 비디오 로더는 리샘플링하지 못합니다",
    "Frames": "프레임 수",
    "The workflow's frame count (Wan: 81); 0: as many as cover the cut": "워크플로의 프레임 수 (Wan: 81); 0: 컷을 덮는 만큼",
    "Width": "너비",
    "Height": "높이",
    "0: the scene's": "0: 씬의 값",
    "Depth video of {shot} failed: {error}": "{shot} 깊이 비디오 실패: {error}",
    "{shot} depth video {version} uploaded: {frames} frames at {fps} fps": "{shot} 깊이 비디오 {version} 업로드됨: {frames} 프레임, {fps} fps",
    "Uploading {shot} depth video": "{shot} 깊이 비디오 업로드 중",
    "Preparing {shot} depth video": "{shot} 깊이 비디오 준비 중",
    "H.264 needs an even frame size; {width}×{height} is not": "H.264는 짝수 프레임 크기가 필요합니다; {width}×{height}는 아닙니다",
}
