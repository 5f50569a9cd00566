"""`aipipe deliver`: conform the edit and make delivery masters on the farm, through the server's HTTP API."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .client import ApiKey, ServerClient, ServerUrl, connect
from .common import AsJson, CliError, err, out, print_json

deliver_app = typer.Typer(
    help="Conform the edit with sound and make delivery masters (ProRes 422 HQ, H.264, H.265) on the farm.",
    no_args_is_help=True,
)
HTTP_TIMEOUT_S = 120.0
POLL_S = 2.0  # how often a waiting command asks how the delivery goes
WAIT_S = 24 * 3600.0

ProjectArg = Annotated[str, typer.Argument(help="Project code or id.")]
Profile = Annotated[str, typer.Option("--profile", help="The conform's codec: h264, h265 or prores_hq.")]
Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the farm has made it.")]
DownloadDir = Annotated[
    Path | None, typer.Option("--download", help="Also save the finished files in this folder.")
]
AnyMedia = Annotated[
    bool, typer.Option("--any-media", help="Use the edit's media, approved or not (default: approved only).")
]
EditFile = Annotated[
    Path | None,
    typer.Option(
        "--edit",
        help="A JSON file with the edit to conform instead of the server's: a list of "
        '{"shot_id", "version_id", "cut_in", "cut_out"} in order (or {"edit": [...]}).',
    ),
]


def _edit(path: Path | None) -> list[Any] | None:
    """The cuts of an edit file, or None without one; CliError naming the file when it is not one."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"{path} is not JSON: {exc}") from exc
    cuts = data.get("edit") if isinstance(data, dict) else data
    if not isinstance(cuts, list) or not cuts:
        raise CliError(f'{path}: expected a list of cuts (or {{"edit": [...]}}) with at least one cut')
    return cuts


def _wait(api: ServerClient, delivery: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    said = ""
    while delivery["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CliError(f"Delivery v{delivery['number']:03d} still {delivery['status']}; stopped waiting.")
        line = f"{delivery['progress'] * 100:5.1f} %  {delivery['stage'] or delivery['status']}"
        if line != said:
            err().print(line, markup=False, highlight=False)
            said = line
        time.sleep(POLL_S)  # polling a remote server from a one-shot command; the server does not wait
        delivery = api.call("GET", f"/api/deliveries/{delivery['id']}")
    return delivery


def _files(delivery: dict[str, Any]) -> list[dict[str, Any]]:
    files = [delivery["conform"]] if delivery.get("conform") else []
    return files + [m["file"] for m in delivery["masters"] if m.get("file") and m["status"] == "succeeded"]


def _download(api: ServerClient, delivery: dict[str, Any], folder: Path) -> None:
    from ..storage.atomic import atomic_write_bytes

    for file in _files(delivery):
        dest = folder / file["name"]
        response = api.request("GET", file["url"])
        try:
            atomic_write_bytes(dest, response.content)
        except OSError as exc:
            raise CliError(f"Cannot write {dest}: {exc.strerror or exc}") from exc
        err().print(f"Saved {dest}.", markup=False, highlight=False)


def _made(master: dict[str, Any]) -> str:
    """How a finished master was made: its picture copied, or its shots encoded and reused; its sound."""
    if master.get("status") != "succeeded":
        return ""
    parts = []
    if master.get("copied_picture"):
        parts.append("picture copied")
    elif master.get("encoded") is not None:
        shots = master["encoded"] + (master.get("reused") or 0)
        parts.append(f"{master['encoded']} of {shots} shots encoded")
    if master.get("reused_sound"):
        parts.append("sound reused")
    return f"({'; '.join(parts)})" if parts else ""


def _report(delivery: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(delivery)
        return
    console = out()
    number, path, state = delivery["number"], delivery["path"], delivery["status"]
    head = f"Delivery v{number:03d} ({path}): {state}, {delivery['frames']} frames"
    console.print(head, markup=False, highlight=False)
    conform = delivery.get("conform")
    if conform:
        console.print(
            f"  conform  {conform['name']}: {conform['encoded']} shots encoded, {conform['reused']} reused",
            markup=False,
            highlight=False,
        )
    for master in delivery["masters"]:
        name = master["file"]["name"] if master.get("file") else ""
        console.print(
            f"  {master['format']:<9} {master['status']:<9} {name} {_made(master)}"
            f" {master.get('error') or ''}".rstrip(),
            markup=False,
            highlight=False,
        )
    if delivery["error"]:
        err().print(delivery["error"], style="red", markup=False, highlight=False)


def _finish(
    api: ServerClient, delivery: dict[str, Any], wait: bool, download: Path | None, as_json: bool
) -> None:
    if wait:
        delivery = _wait(api, delivery)
    if download is not None:
        _download(api, delivery, download)
    _report(delivery, as_json)
    if delivery["status"] == "failed":
        raise typer.Exit(1)


@deliver_app.command("conform")
def conform(
    project: ProjectArg,
    profile: Profile = "h264",
    any_media: AnyMedia = False,
    edit: EditFile = None,
    wait: Wait = True,
    download: DownloadDir = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Conform the edit (approved media in edit order, cut ranges from the versions, sound tracks) into
    the next delivery/vNNN; only shots that changed since the last conform are encoded. `--edit` conforms
    the cuts of a file instead (the VSE's edit as the add-on sends it)."""
    body: dict[str, Any] = {"profile": profile, "require_approval": not any_media}
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        cuts = _edit(edit)
        if cuts is not None:
            body["edit"] = cuts
        pid = api.project_id(project)
        _finish(api, api.call("POST", f"/api/projects/{pid}/conform", json=body), wait, download, as_json)


@deliver_app.command("masters")
def masters(
    project: ProjectArg,
    formats: Annotated[
        list[str], typer.Option("--format", help="prores_hq, h264 or h265; repeat for several.")
    ],
    audio: Annotated[str, typer.Option("--audio", help="aac, or pcm (prores_hq only).")] = "aac",
    video_range: Annotated[str, typer.Option("--range", help="limited or full (h264/h265).")] = "limited",
    slate: Annotated[bool, typer.Option("--slate", help="A slate before the first frame.")] = False,
    burn_ins: Annotated[
        list[str] | None, typer.Option("--burn-in", help="shot, timecode or frame; repeat for several.")
    ] = None,
    record_start: Annotated[
        str, typer.Option("--record-start", help="Timecode of the first frame.")
    ] = "01:00:00:00",
    profile: Profile = "h264",
    any_media: AnyMedia = False,
    wait: Wait = True,
    download: DownloadDir = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Conform the edit and make one master per --format from it into the next delivery/vNNN; each master
    is probed (codec, size, rate, frame count, sound, colour tags) before it is marked done."""
    body = {
        "formats": formats,
        "audio_codec": audio,
        "range": video_range,
        "slate": slate,
        "burn_ins": burn_ins or [],
        "record_start": record_start,
        "profile": profile,
        "require_approval": not any_media,
    }
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        _finish(api, api.call("POST", f"/api/projects/{pid}/deliveries", json=body), wait, download, as_json)


@deliver_app.command("list")
def list_deliveries(
    project: ProjectArg, as_json: AsJson = False, server: ServerUrl = None, api_key: ApiKey = None
) -> None:
    """The project's deliveries, newest first."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        pid = api.project_id(project)
        deliveries = api.call("GET", f"/api/projects/{pid}/deliveries")
    if as_json:
        print_json(deliveries)
        return
    if not deliveries:
        out().print("No deliveries yet.", markup=False, highlight=False)
    for delivery in deliveries:
        _report(delivery, False)


@deliver_app.command("show")
def show(
    delivery_id: Annotated[str, typer.Argument(help="The delivery's id.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it is done.")] = False,
    download: DownloadDir = None,
    as_json: AsJson = False,
    server: ServerUrl = None,
    api_key: ApiKey = None,
) -> None:
    """One delivery: its conform and masters, with the probe of each."""
    with connect(ServerClient, server, api_key, timeout_s=HTTP_TIMEOUT_S) as api:
        _finish(api, api.call("GET", f"/api/deliveries/{delivery_id}"), wait, download, as_json)
