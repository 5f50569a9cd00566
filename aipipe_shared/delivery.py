"""Delivery formats and the check every master passes, shared by the agent that makes a master and the
server that records it (docs/api.md, "Delivery"). PyAV is imported by the probe only, when it runs."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

SAMPLE_RATE = 48000
# The font of every burnt-in text (masters, proxies, dailies): a fontconfig family with Hangul (Korean project
# names, shot codes, notes). drawtext takes one font for the whole text, with no fallback per glyph: "Sans"
# is DejaVu Sans on Debian, which draws Hangul as empty boxes. Where it is not installed (fonts-noto-cjk)
# fontconfig gives its nearest, as "Sans" did.
BURN_IN_FONT = "Noto Sans CJK KR"
AUDIO_SECONDS_SLACK = 0.1  # AAC priming and frame rounding: a master's sound may differ by this much


@dataclass(frozen=True)
class Profile:
    """A picture codec as delivered: its encoder arguments, container, and what a probe must find."""

    codec: str  # as PyAV names the decoder
    extension: str
    pix_fmt: str
    args: tuple[str, ...]
    profile: str | None = None  # as PyAV reports it (ProRes: "HQ")


# No B-frames, closed GOPs (a forced key frame is an IDR): every shot's segment is a closed piece that joins
# by stream copy with segments of other encodes.
PROFILES: dict[str, Profile] = {
    "h264": Profile(
        "h264",
        ".mp4",
        "yuv420p",
        ("-c:v", "libx264", "-preset", "faster", "-crf", "18", "-bf", "0", "-profile:v", "high"),
    ),
    "h265": Profile(
        "hevc",
        ".mp4",
        "yuv420p",
        (
            "-c:v",
            "libx265",
            "-preset",
            "faster",
            "-crf",
            "20",
            "-tag:v",
            "hvc1",
            "-x265-params",
            "bframes=0:log-level=error",
        ),
    ),  # fmt: skip
    "prores_hq": Profile(
        "prores",
        ".mov",
        "yuv422p10le",
        ("-c:v", "prores_ks", "-profile:v", "3", "-vendor", "apl0"),
        profile="HQ",
    ),
}
FORMATS = tuple(PROFILES)
AUDIO_CODECS: dict[str, tuple[str, ...]] = {
    "aac": ("-c:a", "aac", "-b:a", "320k"),
    "pcm": ("-c:a", "pcm_s24le"),
}
AUDIO_PROBE = {"aac": "aac", "pcm": "pcm_s24le"}  # the codec a probe finds for each choice
RANGES = ("limited", "full")

_BT709 = {1: "bt709", 2: "unknown"}
_RANGE_NAMES = {1: "limited", 2: "full"}


def frame_count(path: Path) -> int:
    """Frames of a movie we wrote, from its index (no decoding); packets counted when it has none."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return 0
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        return sum(1 for packet in container.demux(stream) if packet.size)


def audio_tracks(path: Path) -> int:
    """Sound streams in a movie."""
    import av

    with av.open(str(path)) as container:
        return len(container.streams.audio)


def streams_and_tags(path: Path) -> tuple[int, dict[str, str]]:
    """Sound streams in a movie, and its container-level metadata tags."""
    import av

    with av.open(str(path)) as container:
        return len(container.streams.audio), dict(container.metadata)


def probe_movie(path: Path) -> dict[str, Any]:
    """What a delivery check reads from a movie (PyAV, no decoding): codec, profile, pixel format, size,
    rate, frames, colour tags, and the sound streams."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        out: dict[str, Any] = {"container": container.format.name.split(",")[0]}
        if video is not None:
            cc = video.codec_context
            rate = video.average_rate or video.guessed_rate
            out.update(
                codec=cc.name,
                profile=cc.profile,
                pix_fmt=cc.pix_fmt,
                width=cc.width,
                height=cc.height,
                fps=f"{rate.numerator}/{rate.denominator}" if rate else None,
                frames=int(video.frames),
                color_primaries=_BT709.get(int(cc.color_primaries), str(cc.color_primaries)),
                color_trc=_BT709.get(int(cc.color_trc), str(cc.color_trc)),
                colorspace=_BT709.get(int(cc.colorspace), str(cc.colorspace)),
                color_range=_RANGE_NAMES.get(int(cc.color_range), "unknown"),
            )
        out["audio"] = [
            {
                "codec": a.codec_context.name,
                "sample_rate": a.codec_context.sample_rate,
                "channels": a.codec_context.channels,
                "seconds": float(a.duration * a.time_base)
                if a.duration is not None and a.time_base
                else None,
            }
            for a in container.streams.audio
        ]
    if video is not None and not out["frames"]:
        out["frames"] = frame_count(path)
    return out


def expected_master(
    fmt: str, width: int, height: int, fps: str, frames: int, full_range: bool, audio_codec: str
) -> dict[str, Any]:
    """What a probe of a `fmt` master must find (`frames`: the edit's, plus the slate's when it has one)."""
    profile = PROFILES[fmt]
    rate = Fraction(fps)
    expected: dict[str, Any] = {
        "codec": profile.codec,
        "width": width,
        "height": height,
        "fps": f"{rate.numerator}/{rate.denominator}",
        "frames": frames,
        "color_primaries": "bt709",
        "color_trc": "bt709",
        "colorspace": "bt709",
        "color_range": "full" if full_range else "limited",
        "audio_codec": AUDIO_PROBE[audio_codec],
        "audio_seconds": float(frames / rate),
    }
    if profile.profile:
        expected["profile"] = profile.profile
    if profile.codec == "prores":
        expected["pix_fmt"] = profile.pix_fmt
    return expected


def check_master(probe: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """What is wrong with a master, as a delivery check says it; empty when it is what was asked."""
    problems = []
    for key, want in expected.items():
        if key.startswith("audio_"):
            continue
        if probe.get(key) != want:
            problems.append(f"{key} is {probe.get(key)!r}, not {want!r}")
    sound = probe.get("audio") or []
    if not sound:
        problems.append("it has no sound")
    elif sound[0]["codec"] != expected["audio_codec"]:
        problems.append(f"sound is {sound[0]['codec']}, not {expected['audio_codec']}")
    else:
        seconds, want_s = sound[0].get("seconds"), expected["audio_seconds"]
        if seconds is not None and abs(seconds - want_s) > AUDIO_SECONDS_SLACK:
            problems.append(f"sound lasts {seconds:.3f} s, the picture {want_s:.3f} s")
    return problems
