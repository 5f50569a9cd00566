"""Korean for the `camera` feature's texts (English -> Korean), merged by `blender_addon.i18n.table()`."""

from __future__ import annotations

KOREAN: dict[str, str] = {
    "Camera from the first frame": "첫 프레임에서 카메라",
}
