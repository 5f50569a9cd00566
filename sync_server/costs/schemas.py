"""Responses of /api/projects/{id}/costs and /api/shots/{id}/costs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..schemas import Input

BudgetWarning = Literal["80%", "100%"]


class CostTotals(BaseModel):
    """What the jobs of one project, scene, shot or version cost."""

    gpu_seconds: float = Field(description="GPU seconds the agents reported for the jobs, summed.")
    gpu_hours: float
    jobs: int = Field(description="Farm jobs (every type, every state).")
    failed_jobs: int = Field(description="Jobs that ended failed.")
    retries: int = Field(description="Tries after each job's first (a lost lease included).")
    lease_losses: int = Field(description="Tries that ended because the agent stopped answering.")


class GroupCosts(CostTotals):
    takes: int = Field(description="Previz versions (takes).")
    renders: int = Field(description="Render versions.")
    models: list[str] = Field(description="Models the jobs needed resident, sorted.")
    agents: list[str] = Field(description="Agents that ran the jobs (the last agent of each), sorted.")


class SceneCosts(GroupCosts):
    scene_id: uuid.UUID
    code: str


class ShotCosts(GroupCosts):
    shot_id: uuid.UUID
    scene_id: uuid.UUID
    code: str


class Budget(BaseModel):
    hours: float | None = Field(description="The project's GPU budget; null: none set.")
    used_hours: float
    fraction: float | None = Field(description="used_hours / hours; null without a budget.")
    warning: BudgetWarning | None = Field(description='"80%" from 80 % of the budget, "100%" from all of it.')


class ProjectCosts(GroupCosts):
    project_id: uuid.UUID
    budget: Budget
    scenes: list[SceneCosts]
    shots: list[ShotCosts]


class VersionCosts(CostTotals):
    version_id: uuid.UUID
    stage: str
    number: int
    models: list[str]
    agents: list[str]


class JobCost(BaseModel):
    job_id: uuid.UUID
    type: str
    status: str
    version_id: uuid.UUID | None
    gpu_seconds: float | None
    attempts: int
    lease_losses: int
    model: str | None
    agent: str | None
    created_at: datetime
    finished_at: datetime | None


class ShotCostsDetail(GroupCosts):
    shot_id: uuid.UUID
    project_id: uuid.UUID
    code: str
    versions: list[VersionCosts]
    jobs_list: list[JobCost] = Field(description="The shot's jobs, newest first (at most `job_limit`).")
    job_limit: int


class BudgetIn(Input):
    gpu_budget_hours: float | None = Field(
        ge=0, le=10_000_000, description="GPU hours the project may spend; null removes the budget."
    )
