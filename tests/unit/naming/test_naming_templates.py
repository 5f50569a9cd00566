"""Templates: build, parse back, identify, and the errors that name the template and the field."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aipipe_shared.naming import (
    STAGES,
    FieldError,
    TemplateError,
    TemplateSet,
    default_template_set,
    is_safe_component,
    safe_component,
)

PROJECT = "MyProject_2026"
BLEND = f"{PROJECT}/scenes/SCN_001/shots/SHT_0010/layout/v003/SHT_0010_layout_v003.blend"

numbers = st.integers(min_value=0, max_value=10**40)
korean = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=40)
any_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
# Names as the server stores them: whatever a person typed, passed through safe_component().
names = st.one_of(korean, any_text, korean.map(lambda name: f"리나 {name}")).map(safe_component)
comments = names.map(lambda name: name.replace(".", "-"))
extensions = st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True)


@pytest.fixture
def templates() -> TemplateSet:
    return default_template_set()


def test_build_shot_version_dir_pads_numbers_from_the_template(templates: TemplateSet) -> None:
    path = templates.build("shot_version_dir", project=PROJECT, scene=1, shot=10, stage="layout", version=3)
    assert path == f"{PROJECT}/scenes/SCN_001/shots/SHT_0010/layout/v003"


def test_numbers_wider_than_the_padding_are_written_in_full(templates: TemplateSet) -> None:
    assert templates.build("shot_code", shot=12345) == "SHT_12345"


def test_project_padding_override_gives_three_digit_shot_codes() -> None:
    templates = default_template_set({"shot_code": "SHT_{shot:03d}"})
    path = templates.build("shot_dir", project=PROJECT, scene=1, shot=10)
    assert path == f"{PROJECT}/scenes/SCN_001/shots/SHT_010"
    assert templates.parse("shot_dir", path) == {"project": PROJECT, "scene": 1, "shot": 10}


def test_parse_refuses_padding_other_than_the_templates(templates: TemplateSet) -> None:
    assert templates.parse("shot_dir", f"{PROJECT}/scenes/SCN_001/shots/SHT_010") is None
    assert templates.parse("shot_dir", f"{PROJECT}/scenes/SCN_1/shots/SHT_0010") is None


def test_parse_returns_ints_for_number_fields(templates: TemplateSet) -> None:
    fields = templates.parse("version_file", BLEND)
    assert fields == {
        "project": PROJECT,
        "scene": 1,
        "shot": 10,
        "stage": "layout",
        "version": 3,
        "ext": "blend",
    }


def test_parse_returns_none_for_a_path_of_another_template(templates: TemplateSet) -> None:
    assert templates.parse("shot_dir", BLEND) is None
    assert templates.parse("character_dir", f"{PROJECT}/assets/environments/ENV_옥상") is None


def test_parse_accepts_windows_separators_and_nfd_names(templates: TemplateSet) -> None:
    nfd = unicodedata.normalize("NFD", "CHR_리나")
    fields = templates.parse("character_dir", f"{PROJECT}\\assets\\characters\\{nfd}")
    assert fields == {"project": PROJECT, "character": "리나"}


def test_optional_part_is_dropped_when_its_field_is_empty(templates: TemplateSet) -> None:
    base = {"shot": 10, "stage": "render", "version": 1, "ext": "mp4"}
    assert templates.build("version_file_name", **base) == "SHT_0010_render_v001.mp4"
    assert templates.build("version_file_name", **base, comment="") == "SHT_0010_render_v001.mp4"
    assert templates.build("version_file_name", **base, comment=None) == "SHT_0010_render_v001.mp4"
    assert (
        templates.build("version_file_name", **base, comment="손 수정") == "SHT_0010_render_v001_손 수정.mp4"
    )


def test_optional_part_with_a_bad_value_is_refused_not_dropped(templates: TemplateSet) -> None:
    with pytest.raises(FieldError) as error:
        templates.build("version_file_name", shot=1, stage="render", version=1, ext="mp4", comment="a/b")
    assert error.value.field == "comment"


def test_missing_field_error_names_template_and_field(templates: TemplateSet) -> None:
    with pytest.raises(FieldError) as error:
        templates.build("shot_version_dir", project=PROJECT, scene=1, shot=10, stage="layout")
    assert (error.value.template, error.value.field) == ("shot_version_dir", "version")
    assert "'shot_version_dir'" in str(error.value) and "'version'" in str(error.value)


@pytest.mark.parametrize("value", ["3", 3.0, True, None])
def test_number_field_refuses_non_integers(templates: TemplateSet, value: object) -> None:
    with pytest.raises(FieldError, match="'version'"):
        templates.build("version_code", version=value)


def test_number_field_refuses_negative_numbers(templates: TemplateSet) -> None:
    with pytest.raises(FieldError, match="negative"):
        templates.build("scene_code", scene=-1)


def test_text_field_refuses_numbers(templates: TemplateSet) -> None:
    with pytest.raises(FieldError, match="'character'"):
        templates.build("character_code", character=7)


@pytest.mark.parametrize(
    "value",
    [
        "..",
        ".",
        "../../etc",
        "a/b",
        "a\\b",
        "/etc/passwd",
        "C:\\Windows",
        "C:",
        "\\\\server\\share",
        "x\x00y",
    ],
)
def test_build_refuses_field_values_that_are_paths(templates: TemplateSet, value: str) -> None:
    with pytest.raises(FieldError) as error:
        templates.build("project_config_file", project=value)
    assert error.value.field == "project"


@pytest.mark.parametrize("value", ["CON", "nul.txt", "trailing.", "trailing ", "가" * 90])
def test_build_refuses_values_that_make_an_unsafe_component(templates: TemplateSet, value: str) -> None:
    with pytest.raises(FieldError, match="safe form"):
        templates.build("project_dir", project=value)


def test_text_field_may_not_hold_the_character_that_ends_it(templates: TemplateSet) -> None:
    with pytest.raises(FieldError, match=r"'stage'.*\['_'\]"):
        templates.build("version_file_name", shot=1, stage="lay_out", version=1, ext="blend")
    # The same value is fine where nothing follows it in its folder name.
    assert templates.build("shot_stage_dir", project="P", scene=1, shot=1, stage="lay_out").endswith(
        "/lay_out"
    )


def test_unknown_template_name_is_a_clear_error(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="'shot_dri'.*known templates"):
        templates.build("shot_dri", project=PROJECT)


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"a": "{@b}/x", "b": "{@c}", "c": "{@b}"}, r"template 'a'.*cycle: b -> c -> b"),
        ({"a": "x/{@a}"}, r"template 'a'.*cycle: a -> a"),
        ({"a": "{@shot_root}/x"}, r"template 'a'.*unknown template '\{@shot_root\}'"),
        ({"a": "{x}{y}"}, r"template 'a'.*'x' touches another field"),
        ({"a": "v{n:03d}1"}, r"template 'a'.*'n' is followed by a digit"),
        ({"a": "{s}<_{c}>_{d:d}"}, r"template 'a'.*optional part"),
        ({"a": "x<_final>"}, r"template 'a'.*must directly contain a field"),
        ({"a": "{x:3d}"}, r"template 'a'.*'x' has format '3d'"),
        ({"a": "{x"}, r"template 'a'.*never closed"),
        ({"a": "x}"}, r"template 'a'.*no matching"),
        ({"a": "<{x}"}, r"template 'a'.*never closed"),
        ({"a": "x>"}, r"template 'a'.*no matching '<'"),
        ({"a": "C:{x}"}, r"template 'a'.*':'"),
        ({"a": ""}, r"template 'a'.*empty"),
        ({"bad-name": "x"}, r"template 'bad-name'.*not a valid template name"),
    ],
)
def test_malformed_templates_are_refused_naming_the_template(sources: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        TemplateSet(sources)


def test_template_with_empty_folder_level_is_refused_at_build() -> None:
    with pytest.raises(TemplateError, match="empty folder name"):
        TemplateSet({"a": "x//{y}"}).build("a", y="z")


def test_references_inside_optional_parts_expand() -> None:
    templates = TemplateSet({"take": "take{take:02d}", "file": "{shot}<_{@take}>.{ext}"})
    assert templates.build("file", shot="a", ext="exr") == "a.exr"
    assert templates.build("file", shot="a", take=4, ext="exr") == "a_take04.exr"
    assert templates.parse("file", "a_take04.exr") == {"shot": "a", "take": 4, "ext": "exr"}


def test_repeated_field_must_agree_when_parsed() -> None:
    templates = TemplateSet({"a": "{shot:03d}/{shot:03d}.txt"})
    assert templates.parse("a", "010/010.txt") == {"shot": 10}
    assert templates.parse("a", "010/011.txt") is None


def test_fields_lists_every_field_with_its_kind(templates: TemplateSet) -> None:
    assert templates.fields("version_file") == {
        "project": "s",
        "scene": "d",
        "shot": "d",
        "stage": "s",
        "version": "d",
        "comment": "s",
        "ext": "s",
    }


@given(project=names, scene=numbers, shot=numbers, stage=st.sampled_from(STAGES), version=numbers)
def test_shot_version_dir_round_trips(project: str, scene: int, shot: int, stage: str, version: int) -> None:
    templates = default_template_set()
    fields = {"project": project, "scene": scene, "shot": shot, "stage": stage, "version": version}
    path = templates.build("shot_version_dir", **fields)
    assert templates.parse("shot_version_dir", path) == fields
    assert all(is_safe_component(part) for part in path.split("/"))


@given(shot=numbers, version=numbers, comment=st.none() | comments, ext=extensions)
def test_version_file_name_round_trips_with_unicode_comments(
    shot: int, version: int, comment: str | None, ext: str
) -> None:
    templates = default_template_set({"shot_code": "SHT_{shot:04d}"})
    fields = {"shot": shot, "stage": "render", "version": version, "comment": comment, "ext": ext}
    path = templates.build("version_file_name", **fields)
    expected = {key: value for key, value in fields.items() if value is not None}
    assert templates.parse("version_file_name", path) == expected


@given(project=names, character=names)
def test_character_paths_round_trip_for_unicode_names(project: str, character: str) -> None:
    templates = default_template_set()
    for name in ("character_dir", "character_lora_dir", "character_meta_file"):
        path = templates.build(name, project=project, character=character)
        assert templates.parse(name, path) == {"project": project, "character": character}


@given(
    name=st.sampled_from(sorted(n for n in default_template_set() if n.endswith(("_dir", "_file")))),
    project=names,
    scene=numbers,
    shot=numbers,
    version=numbers,
    character=names,
    environment=names,
    comment=comments,
    ext=extensions,
    stage=st.sampled_from(STAGES),
)
def test_identify_names_the_template_that_built_a_path(
    name: str,
    project: str,
    scene: int,
    shot: int,
    version: int,
    character: str,
    environment: str,
    comment: str,
    ext: str,
    stage: str,
) -> None:
    templates = default_template_set()
    fields = {"project": project, "scene": scene, "shot": shot, "version": version, "stage": stage}
    fields |= {"character": character, "environment": environment, "comment": comment, "ext": ext}
    path = templates.build(name, **fields)
    found = templates.identify(path)
    assert found is not None
    assert (found.name, found.path, found.exact) == (name, path, True)
    assert templates.build(found.name, **found.fields) == path


def test_identify_finds_the_shot_of_an_opened_blend_file(templates: TemplateSet) -> None:
    found = templates.identify(BLEND)
    assert found is not None
    assert found.name == "version_file"
    assert (found.fields["scene"], found.fields["shot"], found.fields["version"]) == (1, 10, 3)


def test_identify_prefers_the_meta_file_over_a_stage_folder_of_that_name(templates: TemplateSet) -> None:
    found = templates.identify(f"{PROJECT}/scenes/SCN_001/shots/SHT_0010/shot_meta.json")
    assert found is not None and found.name == "shot_meta_file"


def test_identify_prefers_fixed_text_over_a_number_field() -> None:
    templates = TemplateSet({"generic_dir": "{project}/v{version:03d}", "pinned_dir": "{project}/v001"})
    found = templates.identify("P/v001")
    assert found is not None and found.name == "pinned_dir"
    assert templates.identify("P/v002").name == "generic_dir"


def test_identify_falls_back_to_the_nearest_matching_folder(templates: TemplateSet) -> None:
    found = templates.identify(f"{PROJECT}/scenes/SCN_002/shots/SHT_0020/layout/v007/blocking_final.blend")
    assert found is not None
    assert found.name == "shot_version_dir"
    assert found.path == f"{PROJECT}/scenes/SCN_002/shots/SHT_0020/layout/v007"
    assert not found.exact
    assert found.fields == {"project": PROJECT, "scene": 2, "shot": 20, "stage": "layout", "version": 7}


def test_identify_ignores_single_name_templates_by_default(templates: TemplateSet) -> None:
    found = templates.identify("SHT_0010")
    assert found is not None and found.name == "project_dir"
    assert templates.identify("SHT_0010", names=["shot_code"]).name == "shot_code"


def test_identify_returns_none_for_an_empty_path(templates: TemplateSet) -> None:
    assert templates.identify("") is None


def test_template_set_is_an_immutable_mapping_of_sources(templates: TemplateSet) -> None:
    assert templates["scene_code"] == "SCN_{scene:03d}"
    assert "shot_version_dir" in templates
    assert not hasattr(templates, "__setitem__")
    changed = templates.with_overrides({"scene_code": "SC{scene:02d}"})
    assert changed.build("scene_dir", project="P", scene=3) == "P/scenes/SC03"
    assert templates.build("scene_dir", project="P", scene=3) == "P/scenes/SCN_003"


template_literals = st.text(alphabet="ab_-./v0", min_size=1, max_size=3)
template_fields = st.sampled_from(["{s1}", "{s2}", "{n1:d}", "{n2:02d}"])


def template_texts(depth: int) -> st.SearchStrategy[str]:
    item = template_literals | template_fields
    if depth:
        item = item | template_texts(depth - 1).map(lambda inner: f"<{inner}>")
    return st.lists(item, min_size=1, max_size=6).map("".join)


@settings(max_examples=400)
@given(
    source=template_texts(2),
    s1=st.text(alphabet="ab_-.v0x", max_size=4),
    s2=st.text(alphabet="ab_-.v0x", max_size=4),
    n1=numbers,
    n2=st.none() | numbers,
)
def test_every_accepted_template_parses_back_what_it_builds(
    source: str, s1: str, s2: str, n1: int, n2: int | None
) -> None:
    try:
        templates = TemplateSet({"t": source})
        path = templates.build("t", s1=s1, s2=s2, n1=n1, n2=n2)
    except (TemplateError, FieldError):
        # Refused templates and values are covered elsewhere; this protects the ones accepted.
        return
    fields = templates.parse("t", path)
    assert fields is not None
    given_values = {"s1": s1, "s2": s2, "n1": n1, "n2": n2}
    assert all(given_values[name] == value for name, value in fields.items())
    assert templates.build("t", **fields) == path
