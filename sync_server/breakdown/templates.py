"""Prompt templates for the LLM engine, versioned in the database.

`breakdown.system` is the system prompt; `breakdown.user` wraps each piece of the script
(`$script`, `$part`, `$parts`, `$format` are filled in). The built-in texts below become version 1 the
first time they are needed; an edit adds the next version, and every draft names the version it used.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models_breakdown import PromptTemplate

SYSTEM = "breakdown.system"
USER = "breakdown.user"

BUILTIN: dict[str, str] = {
    SYSTEM: """You are a first assistant director breaking down a film script for an AI film pipeline.
Read the script part you are given and return ONLY a JSON object that matches the given JSON schema.

- characters: every person who appears or speaks. name as written in the script (keep Korean names in
  Korean), aliases (other spellings, nicknames, romanisations), a visual description (age, build, hair,
  face) useful for an image model, clothing items worn, and their role in the story.
- environments: every distinct place and time. id like ENV-001; location, time_of_day, weather, mood.
- scenes: number them 1, 2, 3 ... in the order of this part; a short name, one-sentence description and
  the environment_ref of where it happens.
- shots: split each scene into the shots a director would film. For each shot: scene number, shot_number
  (1, 2, ... within the scene), description (one sentence), action (what moves, in English, present
  tense, for a video model), dialogue spoken in the shot ("NAME: line"), characters in frame with the
  clothing they wear, suggested_camera (shot size, angle, movement, e.g. "tracking shot, low angle"),
  suggested_duration in seconds, and environment_ref.
Do not invent story events that are not in the script. Use only ids and names you list yourself.""",
    USER: """Script format: $format. This is part $part of $parts.

$script""",
}


def current(session: Session, name: str) -> PromptTemplate:
    """The newest version of a template; the built-in text becomes version 1 if there is none yet."""
    found = session.scalar(
        select(PromptTemplate).where(PromptTemplate.name == name).order_by(PromptTemplate.version.desc())
    )
    if found is not None:
        return found
    if name not in BUILTIN:
        raise KeyError(name)
    seed = PromptTemplate(name=name, version=1, body=BUILTIN[name], note="built-in", created_by="system")
    try:
        with session.begin_nested():
            session.add(seed)
    except IntegrityError:
        # Another request seeded it first; theirs is the same built-in text.
        return current(session, name)
    return seed


def versions(session: Session, name: str | None = None) -> list[PromptTemplate]:
    stmt = select(PromptTemplate).order_by(PromptTemplate.name, PromptTemplate.version)
    if name:
        stmt = stmt.where(PromptTemplate.name == name)
    return list(session.scalars(stmt))


def add_version(session: Session, name: str, body: str, note: str, author: str) -> PromptTemplate:
    """Store a new version of `name` (after making sure version 1 exists)."""
    current(session, name)
    latest = session.scalar(select(func.max(PromptTemplate.version)).where(PromptTemplate.name == name)) or 0
    template = PromptTemplate(name=name, version=latest + 1, body=body, note=note, created_by=author)
    session.add(template)
    session.flush()
    return template
