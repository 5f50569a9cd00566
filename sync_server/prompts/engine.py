"""Build a shot's positive and negative prompts from its parts, and say where every fragment came from.

Pure and deterministic: the same inputs and style give the same prompt, byte for byte.

Natural style (FLUX, Wan, LTX) reads as sentences, in this order: camera (shot size, angle, lens,
movement), each subject (LoRA trigger words, name, description, chosen clothing), the action, the
environment (its prompt, or place, time, weather, mood), the look (film look, lighting). Tag style
(SD 1.5 / SDXL) lists the same fragments as comma tags, trigger words first.

Over the style's word limit, whole fragments are left out, least important first (mood, film look,
lighting, time, weather, movement, ...); LoRA trigger words and names are never left out. If the prompt
is still too long, the action is cut at a word boundary. Every fragment is reported with `kept`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .styles import PromptStyle

# Importance when the prompt is too long: lower is left out first; NEVER_DROP and above always stay.
NEVER_DROP = 100
PRIORITY = {
    "trigger_words": NEVER_DROP,
    "name": NEVER_DROP,
    "action": 90,
    "description": 70,
    "clothing": 75,
    "shot_size": 80,
    "prompt": 65,
    "location": 60,
    "angle": 50,
    "lens": 30,
    "time_of_day": 40,
    "weather": 35,
    "movement": 25,
    "lighting": 20,
    "film_look": 15,
    "mood": 10,
}
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Subject:
    name: str
    description: str = ""
    clothing: str = ""
    trigger_words: tuple[str, ...] = ()
    lora_file: str | None = None
    lora_strength: float = 1.0


@dataclass(frozen=True)
class Setting:
    name: str
    prompt: str = ""
    location: str = ""
    time_of_day: str = ""
    weather: str = ""
    mood: str = ""


@dataclass(frozen=True)
class Camera:
    name: str
    shot_size: str = ""
    angle: str = ""
    lens_mm: float | None = None
    movement: str = ""
    film_look: str = ""
    lighting: str = ""


@dataclass(frozen=True)
class PromptInputs:
    subjects: tuple[Subject, ...] = ()
    environment: Setting | None = None
    preset: Camera | None = None
    action: str = ""
    description: str = ""


@dataclass
class Fragment:
    part: str  # positive | negative
    group: str  # camera, subject, action, environment, look, negative
    source: str  # e.g. "character:리나.trigger_words", "preset:Close-Up.lens", "shot.action"
    text: str
    kept: bool = True

    @property
    def field(self) -> str:
        return self.source.rsplit(".", 1)[-1]


@dataclass
class Lora:
    name: str
    strength: float
    source: str


@dataclass
class PromptResult:
    style: PromptStyle
    positive: str
    negative: str
    fragments: list[Fragment]
    loras: list[Lora]
    words: int
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


def lora_name(path: str) -> str:
    """The LoRA file as the agent's ComfyUI names it: the file name under its `models/loras`."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _fragments(inputs: PromptInputs) -> list[Fragment]:
    out: list[Fragment] = []

    def add(group: str, source: str, text: str) -> None:
        text = " ".join(text.split()).strip().rstrip(".")
        if text:
            out.append(Fragment("positive", group, source, text))

    if inputs.preset is not None:
        p = inputs.preset
        tag = f"preset:{p.name}"
        size = p.shot_size
        add("camera", f"{tag}.shot_size", size if not size or "shot" in size else f"{size} shot")
        add("camera", f"{tag}.angle", p.angle)
        add("camera", f"{tag}.lens", f"{p.lens_mm:g}mm lens" if p.lens_mm else "")
        if p.movement and p.movement != "static":
            add("camera", f"{tag}.movement", f"{p.movement} camera")
    for subject in inputs.subjects:
        tag = f"character:{subject.name}"
        add(f"subject:{subject.name}", f"{tag}.trigger_words", " ".join(subject.trigger_words))
        add(f"subject:{subject.name}", f"{tag}.name", subject.name)
        add(f"subject:{subject.name}", f"{tag}.description", subject.description)
        if subject.clothing:
            add(f"subject:{subject.name}", f"{tag}.clothing", f"wearing {subject.clothing}")
    if inputs.action:
        add("action", "shot.action", inputs.action)
    elif inputs.description:
        add("action", "shot.description", inputs.description)
    if inputs.environment is not None:
        e = inputs.environment
        tag = f"environment:{e.name}"
        if e.prompt:
            add("environment", f"{tag}.prompt", e.prompt)
        else:
            add("environment", f"{tag}.location", e.location or e.name)
            add("environment", f"{tag}.time_of_day", e.time_of_day)
            add("environment", f"{tag}.weather", e.weather)
            add("environment", f"{tag}.mood", f"{e.mood} mood" if e.mood else "")
    if inputs.preset is not None:
        p = inputs.preset
        add("look", f"preset:{p.name}.film_look", p.film_look)
        add("look", f"preset:{p.name}.lighting", p.lighting)
    seen: set[str] = set()
    for fragment in out:  # the same words twice (clothing also in the description) say nothing new
        key = fragment.text.casefold()
        if key in seen and fragment.field not in ("trigger_words", "name"):
            fragment.kept = False
        seen.add(key)
    return out


def _sentence(fragments: Sequence[Fragment]) -> str:
    body = ", ".join(f.text for f in fragments)
    end = "" if body.endswith(("…", "!", "?")) else "."
    if fragments[0].field in ("trigger_words", "name"):
        return body + end  # trigger words and names are spelled exactly as trained / written
    return body[:1].upper() + body[1:] + end


def _render(fragments: Sequence[Fragment], style: PromptStyle) -> str:
    kept = [f for f in fragments if f.kept]
    if style.kind == "tags":
        order = sorted(range(len(kept)), key=lambda i: (kept[i].field != "trigger_words", i))
        tags: list[str] = []
        for index in order:
            for tag in kept[index].text.split(","):
                tag = tag.strip()
                if tag and tag.casefold() not in {t.casefold() for t in tags}:
                    tags.append(tag)
        return ", ".join(tags)
    groups: dict[str, list[Fragment]] = {}
    for fragment in kept:
        groups.setdefault(fragment.group, []).append(fragment)
    return " ".join(_sentence(group) for group in groups.values())


def _count(text: str) -> int:
    return len(_WORD.findall(text))


def build(inputs: PromptInputs, style: PromptStyle) -> PromptResult:
    """The prompts for one shot in one style; fragments over the word limit are left out."""
    fragments = _fragments(inputs)
    positive = _render(fragments, style)
    truncated = False
    droppable = sorted(
        (i for i, f in enumerate(fragments) if f.kept and PRIORITY.get(f.field, 50) < NEVER_DROP),
        key=lambda i: (PRIORITY.get(fragments[i].field, 50), -i),
    )
    for index in droppable:
        if _count(positive) <= style.max_words:
            break
        if fragments[index].source in ("shot.action", "shot.description"):
            continue  # the action is cut, not left out
        fragments[index].kept = False
        positive = _render(fragments, style)
    if _count(positive) > style.max_words:
        action = next((f for f in fragments if f.kept and f.group == "action"), None)
        if action is not None:
            excess = _count(positive) - style.max_words
            words = action.text.split()
            action.text = " ".join(words[: max(1, len(words) - excess)]) + "…"
            truncated = True
            positive = _render(fragments, style)
    negative_fragments = [Fragment("negative", "negative", f"style:{style.family}.negative", style.negative)]
    loras: list[Lora] = []
    for subject in inputs.subjects:
        if subject.lora_file and lora_name(subject.lora_file) not in {x.name for x in loras}:
            loras.append(
                Lora(
                    lora_name(subject.lora_file), subject.lora_strength, f"character:{subject.name}.lora_file"
                )
            )
    return PromptResult(
        style=style,
        positive=positive,
        negative=style.negative,
        fragments=fragments + negative_fragments,
        loras=loras,
        words=_count(positive),
        truncated=truncated,
    )
