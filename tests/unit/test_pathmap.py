"""Path mapping between the storage root and workstation mounts, both ways."""

import pytest

from blender_addon.core.pathmap import to_local, to_relative, translate

MAPPINGS = [{"linux": "/mnt/nas/aipipe", "windows": "Z:\\aipipe", "darwin": "/Volumes/nas/aipipe"}]
REL = "NIGHT_ALLEY/scenes/SCN_001/shots/SHT_0010/layout/v003/SHT_0010_layout_v003.blend"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "/mnt/nas/aipipe/" + REL),
        ("darwin", "/Volumes/nas/aipipe/" + REL),
        ("windows", "Z:\\aipipe\\" + REL.replace("/", "\\")),
    ],
)
def test_a_stored_path_opens_in_place_on_each_os(platform: str, expected: str) -> None:
    assert to_local(REL, MAPPINGS, platform) == expected
    assert to_relative(expected, MAPPINGS, platform) == REL


def test_windows_paths_match_whatever_the_case_of_the_drive() -> None:
    assert to_relative("z:\\AIPIPE\\" + REL.replace("/", "\\"), MAPPINGS, "windows") == REL


def test_a_path_outside_every_mount_is_not_claimed() -> None:
    assert to_relative("/mnt/other/aipipe/x.blend", MAPPINGS, "linux") is None
    assert to_relative("/mnt/nas/aipipe-old/x.blend", MAPPINGS, "linux") is None


def test_the_first_mount_that_exists_wins() -> None:
    mappings = [{"linux": "/mnt/a"}, {"linux": "/mnt/b"}]
    assert to_local("x/y.png", mappings, "linux", exists=lambda root: root == "/mnt/b") == "/mnt/b/x/y.png"
    assert to_local("x/y.png", mappings, "darwin") is None


def test_paths_translate_between_platforms_and_never_climb_out() -> None:
    windows = "Z:\\aipipe\\" + REL.replace("/", "\\")
    assert translate(windows, MAPPINGS, "windows", "linux") == "/mnt/nas/aipipe/" + REL
    with pytest.raises(ValueError):
        to_local("../etc/passwd", MAPPINGS, "linux")
