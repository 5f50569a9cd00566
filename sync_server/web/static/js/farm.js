// The farm dashboard: agents with their GPUs and current job, the queue, throughput charts and the wrangler's
// actions. A snapshot from the JSON API, then kept current by the event stream: job and agent events (by
// revision), and live readings (job progress and previews, agents' GPUs) that are not stored as events.
// After a reconnect (and after a hello that came later than the first read) the snapshot is read again, so a
// dashboard left open for a day stays correct.
import {
  LiveEvents,
  accessToken,
  api,
  arrived,
  boot,
  can,
  confirmDialog,
  el,
  errorText,
  goToLogin,
  loadSession,
  merged,
  newer,
  readRetried,
  requireLogin,
  t,
  textOf,
  toast,
} from "./api.js";
import { drawBars } from "./charts.js";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const ACTIVE = new Set(["queued", "running"]);
const GIB = 1024;
// Texts chosen by a value, each key written out in full (api.js `textOf`; the texts test reads them).
const JOB_STATUS_TEXTS = {
  queued: "status_queued",
  running: "status_running",
  succeeded: "status_succeeded",
  failed: "status_failed",
  cancelled: "status_cancelled",
};
const AGENT_STATE_TEXTS = {
  idle: "state_idle",
  busy: "state_busy",
  draining: "state_draining",
  offline: "state_offline",
  unavailable: "state_unavailable",
};
const ACTION_TEXTS = { drain: "action_drain", undrain: "action_undrain" };
const CONFIRM_TEXTS = {
  drain: "confirm_drain",
  undrain: "confirm_undrain",
  clear_blocklist: "confirm_clear_blocklist",
  retry: "confirm_retry",
  cancel: "confirm_cancel",
  priority: "confirm_priority",
};
const RESULT_TEXTS = {
  drain: "result_drain",
  undrain: "result_undrain",
  retry: "result_retry",
  cancel: "result_cancel",
  priority: "result_priority",
};

const state = {
  me: null,
  manage: false,
  agents: new Map(), // id → AgentOut (+ live readings)
  running: new Map(), // job id → JobOut of running jobs (the agents' current jobs)
  queue: new Map(), // job id → JobOut shown in the queue table
  queueTotal: 0,
  status: null,
  throughput: null,
  clockOffsetMs: 0, // server time − browser time
  previews: new Map(), // job id → object URL of its newest preview
  projects: [],
};

const $ = (id) => document.getElementById(id);
const short = (id) => String(id).slice(0, 8);
const serverNow = () => Date.now() + state.clockOffsetMs;

// -- time and numbers ------------------------------------------------------------------------------

function ago(iso) {
  if (!iso) return t("never");
  const seconds = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
  if (seconds < 90) return t("ago_s", { n: seconds });
  if (seconds < 5400) return t("ago_m", { n: Math.round(seconds / 60) });
  if (seconds < 129600) return t("ago_h", { n: Math.round(seconds / 3600) });
  return t("ago_d", { n: Math.round(seconds / 86400) });
}

function agentState(agent) {
  const seen = agent.last_seen_at ? Date.parse(agent.last_seen_at) : 0;
  if (!seen || serverNow() - seen > boot.agent_offline_s * 1000) return "offline";
  // A claim makes the agent busy without an agent event; its job's event says so at once.
  if (agent.state === "idle" && currentJob(agent)) return "busy";
  return agent.state;
}

// -- agents ----------------------------------------------------------------------------------------

function gpuBlock(agent) {
  if (!agent.gpus || agent.gpus.length === 0) {
    return el("div", { class: "gpu nogpu", text: t("no_gpu", { reason: agent.gpu_error || t("no_gpu_unknown") }) });
  }
  return el(
    "div",
    { class: "gpus" },
    ...agent.gpus.map((gpu) => {
      const total = gpu.vram_total_mb || 0;
      const used = gpu.vram_used_mb ?? (gpu.vram_free_mb != null ? total - gpu.vram_free_mb : null);
      const fraction = used != null && total ? Math.min(1, used / total) : 0;
      const meter = el("div", { class: "meter" }, el("span"));
      meter.firstChild.style.width = `${Math.round(fraction * 100)}%`;
      return el(
        "div",
        { class: "gpu", dataset: { index: gpu.index } },
        el("span", { class: "gpu-name", text: `${gpu.index}: ${gpu.name}` }),
        el("span", {
          class: "gpu-util",
          text: gpu.utilization_pct != null ? t("gpu_util", { pct: gpu.utilization_pct }) : t("gpu_unknown"),
        }),
        el("span", {
          class: "gpu-vram",
          text: t("gpu_vram", {
            used: used != null ? (used / GIB).toFixed(1) : "?",
            total: (total / GIB).toFixed(1),
          }),
        }),
        el("span", {
          class: "gpu-temp",
          text: gpu.temperature_c != null ? t("gpu_temp", { c: gpu.temperature_c }) : "",
        }),
        meter,
      );
    }),
  );
}

function currentJob(agent) {
  for (const job of state.running.values()) {
    if (job.agent_id === agent.id && job.status === "running") return job;
  }
  return null;
}

function jobBlock(agent) {
  const job = currentJob(agent);
  if (!job) return el("div", { class: "job none muted", text: t("no_job") });
  const bar = el("div", { class: "progress" }, el("span"));
  bar.firstChild.style.width = `${Math.round((job.progress || 0) * 100)}%`;
  const title = [job.type, job.workflow, job.project_code].filter(Boolean).join(" · ");
  const block = el(
    "div",
    { class: "job", dataset: { jobId: job.id } },
    el("div", {}, el("b", { text: short(job.id) }), " ", el("span", { class: "muted", text: title })),
    bar,
    el("div", {
      class: "stage",
      text: `${Math.round((job.progress || 0) * 100)}%${job.stage_text ? " · " + job.stage_text : ""}${
        job.cancel_requested ? " · " + t("cancel_pending") : ""
      }`,
    }),
  );
  const preview = state.previews.get(job.id);
  if (preview) block.append(el("img", { class: "preview", src: preview, alt: short(job.id) }));
  return block;
}

function agentActions(agent) {
  const why = state.manage ? null : t("needs_manage");
  const actions = el("div", { class: "actions" });
  const drain = agent.draining ? "undrain" : "drain";
  actions.append(
    el("button", {
      type: "button",
      dataset: { action: drain },
      disabled: !state.manage,
      title: why,
      text: textOf(ACTION_TEXTS, drain),
      onclick: () => agentAction(agent, drain),
    }),
  );
  if ((agent.blocked_types || []).length) {
    actions.append(
      el("button", {
        type: "button",
        dataset: { action: "clear-blocklist" },
        disabled: !state.manage,
        title: why,
        text: t("action_clear_blocklist"),
        onclick: () => agentAction(agent, "clear_blocklist"),
      }),
    );
  }
  return actions;
}

function agentCard(agent) {
  const shown = agentState(agent);
  const comfy =
    shown === "offline"
      ? t("comfy_unknown")
      : shown === "unavailable"
        ? t("comfy_down", { reason: agent.state_reason || "?" })
        : t("comfy_ok");
  return el(
    "article",
    { class: "agent", dataset: { agentId: agent.id, state: shown } },
    el(
      "header",
      {},
      el("b", { class: "agent-name", text: agent.name }),
      el("span", { class: "state", dataset: { state: shown }, text: textOf(AGENT_STATE_TEXTS, shown) }),
      agent.draining && shown !== "draining" ? el("span", { class: "state", dataset: { state: "draining" }, text: t("state_draining") }) : null,
    ),
    el("div", { class: "muted host", text: `${agent.host || "—"} · v${agent.version || "?"} · ${t("last_seen", { ago: ago(agent.last_seen_at) })}` }),
    el("div", { class: `comfy ${shown === "unavailable" ? "error" : "muted"}`, text: comfy }),
    (agent.tags || []).length ? el("div", { class: "tags" }, ...agent.tags.map((tag) => el("span", { class: "tag", text: tag }))) : null,
    gpuBlock(agent),
    (agent.loaded_models || []).length ? el("div", { class: "muted models", text: t("models", { names: agent.loaded_models.join(", ") }) }) : null,
    (agent.blocked_types || []).length ? el("div", { class: "error blocked", text: t("blocked", { types: agent.blocked_types.join(", ") }) }) : null,
    jobBlock(agent),
    agentActions(agent),
  );
}

function renderAgent(agent) {
  const card = agentCard(agent);
  const old = document.querySelector(`.agent[data-agent-id="${agent.id}"]`);
  if (old) old.replaceWith(card);
  else renderAgents();
}

function renderAgents() {
  const list = [...state.agents.values()].sort((a, b) => a.name.localeCompare(b.name));
  $("agents").replaceChildren(...list.map(agentCard));
  $("agents-empty").hidden = list.length > 0;
  renderSummary();
}

function renderAgentOfJob(job) {
  const agent = job.agent_id && state.agents.get(job.agent_id);
  if (agent) renderAgent(agent);
}

async function agentAction(agent, action) {
  const types = (agent.blocked_types || []).join(", ");
  if (!(await confirmDialog(textOf(CONFIRM_TEXTS, action, { name: agent.name, types })))) return;
  try {
    if (action === "clear_blocklist") {
      const result = await api(`/api/farm/blocklist/${agent.id}`, { method: "DELETE" });
      agent.blocked_types = [];
      renderAgent(agent);
      toast(t("result_clear_blocklist", { name: agent.name, count: result.cleared }));
    } else {
      const updated = await api(`/api/farm/agents/${agent.id}/${action}`, { method: "POST" });
      applyAgent(updated);
      toast(textOf(RESULT_TEXTS, action, { name: agent.name }));
    }
  } catch (error) {
    toast(t("failed_action", { why: errorText(error) }), "error");
  }
}

function applyAgent(incoming) {
  const old = state.agents.get(incoming.id);
  if (!newer(old, incoming)) return;
  state.agents.set(incoming.id, arrived({ ...old, ...incoming }));
  renderAgent(state.agents.get(incoming.id));
}

// -- queue -----------------------------------------------------------------------------------------

function filters() {
  const status = $("f-status").value;
  return {
    status: status === "active" ? ["queued", "running"] : status ? [status] : [],
    type: $("f-type").value,
    project_id: $("f-project").value,
    shot_id: $("f-shot").value,
    sort: $("f-sort").value,
  };
}

function matches(job, f = filters()) {
  return (
    (!f.status.length || f.status.includes(job.status)) &&
    (!f.type || job.type === f.type) &&
    (!f.project_id || job.project_id === f.project_id) &&
    (!f.shot_id || job.shot_id === f.shot_id)
  );
}

function compareJobs(a, b, sort = filters().sort) {
  for (const field of sort.split(",")) {
    const key = field.replace(/^-/, "");
    const sign = field.startsWith("-") ? -1 : 1;
    const x = a[key];
    const y = b[key];
    if (x < y) return -sign;
    if (x > y) return sign;
  }
  return 0;
}

function canCancel(job) {
  return state.manage || (can("render:submit") && job.created_by === state.me.username);
}

function jobRow(job) {
  const actions = el("td", { class: "actions" });
  if (FINISHED.has(job.status) && job.status !== "succeeded") {
    actions.append(
      el("button", {
        type: "button",
        dataset: { action: "retry" },
        disabled: !state.manage,
        title: state.manage ? null : t("needs_manage"),
        text: t("action_retry"),
        onclick: () => jobAction(job, "retry"),
      }),
    );
  }
  if (ACTIVE.has(job.status)) {
    actions.append(
      el("button", {
        type: "button",
        class: "danger",
        dataset: { action: "cancel" },
        disabled: !canCancel(job) || job.cancel_requested,
        title: canCancel(job) ? null : t("needs_owner"),
        text: t("action_cancel"),
        onclick: () => jobAction(job, "cancel"),
      }),
    );
  }
  const priority = el("input", {
    class: "prio",
    type: "number",
    min: 0,
    max: 100,
    value: job.priority,
    disabled: !state.manage || FINISHED.has(job.status),
    "aria-label": t("col_priority"),
  });
  const setPriority = el("button", {
    type: "button",
    dataset: { action: "priority" },
    disabled: !state.manage || FINISHED.has(job.status),
    title: state.manage ? null : t("needs_manage"),
    text: t("action_priority"),
    onclick: () => jobAction(job, "priority", Number(priority.value)),
  });
  const progress = job.status === "running" ? `${Math.round((job.progress || 0) * 100)}%` : "";
  return el(
    "tr",
    { dataset: { jobId: job.id, status: job.status } },
    el("td", { title: job.id }, el("code", { text: short(job.id) })),
    el("td", { text: [job.type, job.workflow].filter(Boolean).join(" · ") }),
    el("td", { text: job.project_code || "—" }),
    el("td", { class: "status", text: textOf(JOB_STATUS_TEXTS, job.status) + (job.cancel_requested && !FINISHED.has(job.status) ? ` (${t("cancel_pending")})` : "") }),
    el("td", {}, priority, " ", setPriority),
    el("td", { class: "progress-cell", text: progress + (job.status === "running" && job.stage_text ? ` ${job.stage_text}` : "") }),
    el("td", { text: job.agent_name || "—" }),
    el("td", { text: `${job.attempts}/${job.max_attempts}` }),
    el("td", { text: ago(job.created_at) }),
    el("td", { class: "err", text: job.error || "" }),
    actions,
  );
}

function renderQueue() {
  const jobs = [...state.queue.values()].sort((a, b) => compareJobs(a, b));
  const rows = jobs.map(jobRow);
  $("queue-rows").replaceChildren(...rows);
  if (!rows.length) $("queue-rows").append(el("tr", {}, el("td", { colspan: 11, class: "muted", text: t("queue_empty") })));
  $("queue-count").textContent = t("queue_count", { shown: jobs.length, total: state.queueTotal });
}

function renderJobRow(job) {
  const old = document.querySelector(`#queue-rows tr[data-job-id="${job.id}"]`);
  if (old) old.replaceWith(jobRow(job));
  else renderQueue();
}

/** Put one job's row where the order puts it (its priority or status changed): one row moves, not 200. */
function placeJobRow(job) {
  const body = $("queue-rows");
  const old = body.querySelector(`tr[data-job-id="${job.id}"]`);
  if (!old) return renderQueue();
  old.remove();
  const sort = filters().sort;
  const next = [...body.children].find((row) => {
    const other = state.queue.get(row.dataset.jobId);
    return other && compareJobs(job, other, sort) < 0;
  });
  body.insertBefore(jobRow(job), next || null);
  $("queue-count").textContent = t("queue_count", { shown: state.queue.size, total: state.queueTotal });
}

async function jobAction(job, action, priority) {
  const question = textOf(CONFIRM_TEXTS, action, { job: short(job.id), priority });
  if (!(await confirmDialog(question))) return;
  try {
    const updated = await api(`/api/farm/jobs/${job.id}/${action}`, {
      method: "POST",
      body: action === "priority" ? { priority } : undefined,
    });
    applyJob(updated);
    const status = textOf(JOB_STATUS_TEXTS, updated.status) + (updated.cancel_requested && !FINISHED.has(updated.status) ? ` (${t("cancel_pending")})` : "");
    toast(textOf(RESULT_TEXTS, action, { job: short(job.id), priority: updated.priority, status }));
  } catch (error) {
    toast(t("failed_action", { why: errorText(error) }), "error");
  }
}

function applyJob(incoming, previousStatus = null) {
  const known = state.queue.get(incoming.id) || state.running.get(incoming.id);
  if (known && !newer(known, incoming)) return;
  const job = arrived({ ...known, ...incoming });
  // Progress comes with live readings, not with events: keep the newest we saw.
  if (known && job.status === "running" && incoming.revision === known.revision) {
    job.progress = known.progress;
    job.stage_text = known.stage_text;
  }
  const before = previousStatus ?? (known ? known.status : null);
  if (job.status === "running") state.running.set(job.id, job);
  else {
    state.running.delete(job.id);
    // A page open for days keeps no image of a job that no longer runs.
    const preview = state.previews.get(job.id);
    if (preview) URL.revokeObjectURL(preview);
    state.previews.delete(job.id);
  }
  const f = filters();
  const shown = state.queue.has(job.id);
  if (matches(job, f)) {
    state.queue.set(job.id, job);
    if (!shown) state.queueTotal += 1;
    trimQueue();
    // A row keeps its place unless what the table is ordered by changed; then only that row moves.
    if (shown && before === job.status && known.priority === job.priority) renderJobRow(job);
    else if (shown && state.queue.has(job.id)) placeJobRow(job);
    else renderQueue();
  } else if (shown) {
    state.queue.delete(job.id);
    state.queueTotal = Math.max(0, state.queueTotal - 1);
    renderQueue();
  }
  if (known?.agent_id && known.agent_id !== job.agent_id) renderAgentOfJob(known);
  renderAgentOfJob(job);
}

function trimQueue() {
  if (state.queue.size <= boot.queue_limit) return;
  const jobs = [...state.queue.values()].sort((a, b) => compareJobs(a, b));
  for (const job of jobs.slice(boot.queue_limit)) state.queue.delete(job.id);
}

async function loadQueue() {
  const f = filters();
  const since = performance.now();
  const page = await api("/api/farm/jobs", {
    query: { status: f.status, type: f.type, project_id: f.project_id, shot_id: f.shot_id, sort: f.sort, limit: boot.queue_limit },
  });
  // An event that came while this was read may carry a newer job than the page, or a job the read did not
  // have yet: the newer stays, and so does the new job.
  const jobs = merged(page.items, knownJob, state.queue.values(), since).filter((job) => matches(job, f));
  state.queue = new Map(jobs.map((job) => [job.id, job]));
  state.queueTotal = page.total + jobs.length - page.items.length;
  // One object per job in both maps, so that a live reading updates the row and the agent card alike.
  for (const job of jobs) if (job.status === "running") state.running.set(job.id, job);
  renderQueue();
}

function knownJob(id) {
  return state.queue.get(id) || state.running.get(id);
}

// -- summary and charts ----------------------------------------------------------------------------

function renderSummary() {
  const counts = {};
  for (const agent of state.agents.values()) {
    const shown = agentState(agent);
    counts[shown] = (counts[shown] || 0) + 1;
  }
  $("fig-agents").textContent = String(state.agents.size);
  $("fig-agent-states").textContent = Object.entries(counts)
    .map(([name, n]) => `${textOf(AGENT_STATE_TEXTS, name)} ${n}`)
    .join(" · ");
  if (!state.status) return;
  $("fig-queue").textContent = String(state.status.queue_depth);
  $("fig-running").textContent = String(state.status.running);
  const hour = state.throughput ? state.throughput.hour.buckets : [];
  $("fig-ok-hour").textContent = String(hour.reduce((n, b) => n + b.succeeded, 0));
  $("fig-failed-hour").textContent = String(hour.reduce((n, b) => n + b.failed, 0));
}

function renderCharts() {
  if (!state.throughput) return;
  for (const [name, id] of [["hour", "chart-hour"], ["day", "chart-day"]]) {
    const box = $(id);
    box.querySelector("svg")?.remove();
    box.append(drawBars(state.throughput[name].buckets, (bucket) => {
      const total = bucket.succeeded + bucket.failed;
      return t("chart_bar", {
        start: new Date(bucket.start).toLocaleTimeString(boot.lang, { hour: "2-digit", minute: "2-digit" }),
        ok: bucket.succeeded,
        bad: bucket.failed,
        rate: total ? Math.round((100 * bucket.failed) / total) : 0,
      });
    }));
  }
}

/** Count a job that just finished into the newest bucket of each chart (and the status figures). */
function countTransition(before, after) {
  if (!state.status || before === after) return;
  const delta = { queued: "queue_depth", running: "running" };
  if (delta[before]) state.status[delta[before]] = Math.max(0, state.status[delta[before]] - 1);
  if (delta[after]) state.status[delta[after]] += 1;
  if (state.throughput && (after === "succeeded" || after === "failed")) {
    for (const name of ["hour", "day"]) state.throughput[name].buckets.at(-1)[after] += 1;
    renderCharts();
  }
  renderSummary();
}

// -- live ------------------------------------------------------------------------------------------

function onEvent(message) {
  if (message.entity === "job" && message.data) {
    const change = (message.changes || {}).status;
    const before = message.action === "job.created" ? null : change ? change[0] : message.data.status;
    if (message.action === "job.created") countTransition(null, message.data.status);
    else if (change) countTransition(change[0], change[1]);
    applyJob(message.data, before);
  } else if (message.action === "project.budget_warning" && message.data) {
    // A finished job took a project to 80 % or 100 % of its GPU budget (pushed once per level).
    const d = message.data;
    const used = Number(d.used_hours || 0).toFixed(2);
    toast(t("budget_warning", { project: d.project_code, level: d.level, used, hours: d.hours }), "error");
  } else if (message.entity === "agent") {
    if (message.action === "agent.blocklist_cleared") {
      const agent = state.agents.get(message.entity_id);
      const cleared = ((message.changes || {}).job_types || [[]])[0];
      if (agent) {
        agent.blocked_types = (agent.blocked_types || []).filter((type) => !cleared.includes(type));
        renderAgent(agent);
      }
    } else if (message.data) {
      applyAgent(message.data);
    }
  }
}

async function onLive(message) {
  if (message.type !== "live") return;
  const data = message.data;
  if (message.kind === "agent.heartbeat") {
    const agent = state.agents.get(data.id);
    if (!agent) return;
    Object.assign(agent, data);
    renderAgent(agent);
    renderSummary();
  } else if (message.kind === "job.progress") {
    const job = state.running.get(data.id) || state.queue.get(data.id);
    if (!job) return;
    const reading = { progress: data.progress, stage_text: data.stage_text, preview_mime: data.preview_mime };
    Object.assign(job, reading);
    if (state.queue.has(job.id)) Object.assign(state.queue.get(job.id), reading);
    if (state.queue.has(job.id)) renderJobRow(job);
    renderAgentOfJob(job);
    if (data.preview_new) await loadPreview(job);
  }
}

async function loadPreview(job) {
  // <img src> cannot send the bearer token: fetch the image and show it from a blob URL.
  try {
    const token = await accessToken();
    const response = await fetch(`/api/farm/jobs/${job.id}/preview`, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const old = state.previews.get(job.id);
    state.previews.set(job.id, url);
    if (old) URL.revokeObjectURL(old);
    renderAgentOfJob(job);
  } catch (error) {
    console.warn("preview not loaded", error);
  }
}

// -- loading ---------------------------------------------------------------------------------------

async function loadSnapshot() {
  const started = Date.now();
  const since = performance.now();
  const [agents, status, throughput, running] = await Promise.all([
    api("/api/farm/agents"),
    api("/api/farm/status"),
    api("/api/farm/throughput"),
    api("/api/farm/jobs", { query: { status: "running", limit: 1000 } }),
    loadQueue(),
  ]);
  state.clockOffsetMs = Date.parse(throughput.now) - (started + Date.now()) / 2;
  for (const agent of agents) {
    const old = state.agents.get(agent.id);
    state.agents.set(agent.id, newer(old, agent) ? agent : old);
  }
  // An agent the read does not have is gone, unless an event brought it while the read was on its way.
  for (const [id, agent] of [...state.agents]) {
    if (!agents.some((a) => a.id === id) && !((agent.arrived ?? -Infinity) >= since)) state.agents.delete(id);
  }
  state.running = new Map(
    merged(running.items, knownJob, state.running.values(), since)
      .filter((job) => job.status === "running")
      .map((job) => [job.id, job]),
  );
  state.status = status;
  state.throughput = throughput;
  for (const job of state.queue.values()) if (state.running.has(job.id)) state.running.set(job.id, job);
  renderQueue();
  renderAgents();
  renderCharts();
  // Previews follow; the dashboard does not wait for them.
  for (const job of state.running.values()) if (job.preview_mime) loadPreview(job);
}

async function loadProjects() {
  const page = await api("/api/projects", { query: { limit: 500 } });
  state.projects = page.items || page;
  const select = $("f-project");
  select.append(...state.projects.map((p) => el("option", { value: p.id, text: `${p.code} · ${p.name}` })));
}

async function loadShots() {
  const select = $("f-shot");
  select.replaceChildren(el("option", { value: "", text: t("filter_any") }));
  const project = $("f-project").value;
  select.disabled = !project;
  if (!project) return;
  const page = await api(`/api/projects/${project}/shots`, { query: { limit: 5000 } });
  select.append(...(page.items || page).map((shot) => el("option", { value: shot.id, text: shot.code })));
}

async function main() {
  const session = loadSession();
  if (!session) return goToLogin();
  // The stored account lets the page start at once; the server confirms it (and the role) meanwhile.
  state.me = session.user;
  state.manage = can("farm:manage");
  const confirmed = requireLogin().then((me) => {
    state.me = me;
    if (can("farm:manage") !== state.manage) {
      state.manage = can("farm:manage");
      renderAgents();
      renderQueue();
    }
  });
  // The stream opens and the snapshot is read once it says hello (or at most 1 s later); LiveEvents reads
  // it again after a hello that came later (and after a reconnect), so a change made meanwhile is not lost.
  // The queue's reads go through it too: one at a time, none landing after a newer one. A read that fails is retried (with a notice that the
  // page's data is out of date) until one succeeds; the page is ready once its data has been read.
  const live = new LiveEvents({ onEvent, onMessage: onLive, load: loadSnapshot });
  $("f-type").append(...boot.job_types.map((type) => el("option", { value: type, text: type })));
  // A filter's read that fails leaves the queue of the filter before: LiveEvents says so and reads again.
  const readQueue = () => live.read(loadQueue).catch((error) => live.readFailed(error));
  for (const id of ["f-status", "f-type", "f-shot", "f-sort"]) {
    $(id).addEventListener("change", readQueue);
  }
  $("f-project").addEventListener("change", async () => {
    try {
      await loadShots();
    } catch (error) {
      toast(errorText(error), "error");
    }
    await readQueue();
  });
  // The projects (the project filter) are read the same way: retried, with the notice, until read.
  await Promise.all([live.start(), readRetried(loadProjects), confirmed]);
  // Ages and offline agents change with time alone.
  setInterval(() => {
    renderAgents();
  }, 5000);
  $("farm").dataset.ready = "true";
  performance.mark("aipipe-farm-ready");
  window.aipipeFarm = { state, live };
}

main().catch((error) => toast(errorText(error), "error"));
