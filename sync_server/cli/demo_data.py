"""`aipipe demo`: the sample project (through the real services) and a demo login. Safe to run again."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from importlib import resources as pkg_resources
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from ..auth.passwords import Passwords
from ..breakdown.apply import apply_draft
from ..breakdown.service import parse_into_draft
from ..catalog.characters import CHARACTER, CharacterCreate
from ..catalog.environments import ENVIRONMENT, EnvironmentCreate
from ..context import SYSTEM
from ..db.migrate import upgrade
from ..db.models import Agent, ApiKey, Character, Environment, Project, Shot, User
from ..projects.schemas import ProjectCreate
from ..projects.service import confirm_project, create_project
from ..resources import create
from ..settings import Settings
from ..storage.meta import MetaWriter
from ..users.schemas import ApiKeyCreate, UserCreate, UserUpdate
from ..users.service import create_api_key, create_user, ensure_first_admin, revoke_api_key, update_user
from .common import system_uow

DEMO_USER = "director"
DEMO_AGENT = "demo-cpu-agent"
SAMPLE = "night_alley.json"
SCENARIO = "night_alley.scenario.txt"


@dataclass(frozen=True)
class DemoResult:
    project_code: str
    project_name: str
    shots: int
    username: str
    password: str
    admin_password: str | None
    tree: str
    agent_key: str | None  # None when no agent is to be started (--no-serve)


def load_sample() -> dict[str, Any]:
    return json.loads(pkg_resources.files("sync_server.sample").joinpath(SAMPLE).read_text(encoding="utf-8"))


def prepare_demo(settings: Settings, agent: bool = True) -> DemoResult:
    """The sample project and demo logins; with `agent`, a fresh key for the demo's local render agent."""
    upgrade(settings.resolved_database_url)
    sample = load_sample()
    passwords = Passwords()
    password = secrets.token_urlsafe(9)
    with system_uow(settings) as uow:
        admin_password = ensure_first_admin(uow, passwords)
    with system_uow(settings) as uow:
        user = uow.session.scalar(select(User).where(User.username == DEMO_USER))
        if user is None:
            create_user(
                uow,
                passwords,
                UserCreate(
                    username=DEMO_USER, password=password, role="director", display_name="Demo Director"
                ),
            )
        else:
            update_user(uow, passwords, user.id, UserUpdate(password=password, active=True), user.revision)
        project = uow.session.scalar(select(Project).where(Project.code == sample["project"]["code"]))
        if project is None:
            _create_sample(uow, sample)
            project = uow.session.scalar(select(Project).where(Project.code == sample["project"]["code"]))
        assert project is not None
        # Confirming is idempotent: a re-run only completes the tree.
        confirmed = confirm_project(
            uow,
            project.id,
            None,
            settings.resolved_storage_root,
            MetaWriter(None, settings.resolved_storage_root),
        )
        shots = len(uow.session.scalars(select(Shot.id).where(Shot.project_id == project.id)).all())
        # Only a demo that starts its agent re-keys it: a --no-serve run beside a serving demo would
        # otherwise revoke the key of the agent that demo is running.
        agent_key = demo_agent_key(uow) if agent else None
        return DemoResult(
            project.code,
            project.name,
            shots,
            DEMO_USER,
            password,
            admin_password,
            str(settings.resolved_storage_root / confirmed.tree_root),
            agent_key,
        )


def demo_agent_key(uow: Any) -> str:
    """A fresh API key for the demo's local CPU agent; keys from earlier runs are revoked and the agent
    they registered is handed to the new key (else the server refuses the agent's next registration:
    'registered with another API key')."""
    for old in uow.session.scalars(
        select(ApiKey).where(ApiKey.name == DEMO_AGENT, ApiKey.revoked_at.is_(None))
    ):
        revoke_api_key(uow, old.id)
    created = create_api_key(uow, ApiKeyCreate(name=DEMO_AGENT, role="agent"))
    uow.session.execute(
        update(Agent)
        .where(Agent.name == DEMO_AGENT)
        .values(api_key_id=created.id, revision=Agent.revision + 1)
    )
    uow.session.commit()
    return created.key


def _create_sample(uow: Any, sample: dict[str, Any]) -> None:
    project_out = create_project(uow, ProjectCreate(**sample["project"]))
    project = uow.session.get(Project, project_out.id)
    for data in sample["characters"]:
        create(uow, CHARACTER, Character(project_id=project.id, **CharacterCreate(**data).model_dump()))
    for data in sample["environments"]:
        create(uow, ENVIRONMENT, Environment(project_id=project.id, **EnvironmentCreate(**data).model_dump()))
    # Scenes and shots come from the bundled scenario through the deterministic parser and are applied
    # as a person would apply them: its characters and places merge into the bible above by name.
    scenario = pkg_resources.files("sync_server.sample").joinpath(SCENARIO).read_text(encoding="utf-8")
    draft = parse_into_draft(uow, project.id, scenario, SCENARIO)
    apply_draft(uow, draft.id, draft.revision)


@dataclass
class DemoEdit:
    edl: Path
    proxy: Path | None
    note: str


def demo_edit(settings: Settings, project_code: str) -> DemoEdit:
    """The sample project's edit on disk: the EDL (rewritten each run) in `edit/edl/`, and a proxy movie
    in `edit/proxy/vNNN/` when there is none yet (a later run reuses it; `aipipe editorial proxy` makes
    the next one, re-encoding only the shots that changed)."""
    from ..db.engine import make_database
    from ..db.models_editorial import ProxyRender
    from ..editorial.jobs import ProxyJobs
    from ..editorial.service import export_edit
    from ..storage.atomic import atomic_write_bytes
    from ..storage.layout import ProjectLayout

    root = settings.resolved_storage_root
    db = make_database(settings.resolved_database_url)
    jobs = ProxyJobs(db, None, settings)
    try:
        with db.read_sessions() as session:
            project = session.scalar(select(Project).where(Project.code == project_code))
            assert project is not None
            written, name = export_edit(
                session, project.id, root, "cmx_3600", settings.editorial_record_start
            )
            edl = root / ProjectLayout.of(project, root).build("edit_edl_dir") / name
            done = session.scalar(
                select(ProxyRender)
                .where(ProxyRender.project_id == project.id, ProxyRender.status == "succeeded")
                .order_by(ProxyRender.number.desc())
            )
        atomic_write_bytes(edl, written.text.encode("utf-8"))
        if done is None:
            queued = jobs.submit(project.id, SYSTEM)
            jobs.wait(queued.id)
            with db.read_sessions() as session:
                done = session.get(ProxyRender, queued.id)
        if done is None or done.status != "succeeded":
            return DemoEdit(edl, None, f"proxy movie failed: {done.error if done else 'not made'}")
        return DemoEdit(edl, root / done.path, f"{done.frames} frames")
    finally:
        jobs.close()
        db.dispose()
