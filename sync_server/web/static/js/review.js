// The review room: pick a project, its shots in edit order, a shot's versions in two slots (A and B) side by
// side or as a wipe, played in sync and stepped frame by frame at the project's exact rate, and verdicts and
// notes anchored to a frame. Media play from signed URLs (a <video> cannot send the Authorization header);
// new notes, verdicts and versions arrive live on the event stream.
import { api, arrived, boot, can, el, errorText, LiveEvents, merged, newer, newest, readRetried, requireLogin, t, textOf, toast } from "./api.js";
import { firstNumber, frameOf, matchFrame, MediaLinks, timecode, timeOf } from "./review_media.js";

const STAGE_ORDER = ["previz", "layout", "playblast", "render", "comp", "final", "plate", "reference"];
const VERDICTS = ["approve", "needs_changes", "reject"];
const RENEW_EVERY_MS = 60_000;
// Texts chosen by a value, each key written out in full (api.js `textOf`; the texts test reads them).
const STAGE_TEXTS = {
  previz: "stage_previz",
  layout: "stage_layout",
  playblast: "stage_playblast",
  render: "stage_render",
  comp: "stage_comp",
  final: "stage_final",
  plate: "stage_plate",
  reference: "stage_reference",
  mask: "stage_mask",
  control: "stage_control",
  interp: "stage_interp",
  upscale: "stage_upscale",
  audio: "stage_audio",
};
const SHOT_STATUS_TEXTS = {
  draft: "status_draft",
  ready: "status_ready",
  generating: "status_generating",
  review: "status_review",
  approved: "status_approved",
  final: "status_final",
  omitted: "status_omitted",
};
const VERDICT_TEXTS = {
  approve: "verdict_is_approve",
  needs_changes: "verdict_is_needs_changes",
  reject: "verdict_is_reject",
};

const state = {
  projects: new Map(),
  project: null, // the chosen project (with fps_num / fps_den)
  shots: [], // in edit order
  shot: null,
  versions: [], // the shot's versions, newest first
  versionsRead: false, // whether the chosen shot's versions were read (else: loading, or its read failed)
  slots: { a: null, b: null }, // version ids
  // The frame A shows (0 = its movie's first frame; shown as the shot's number, `numbered`). B shows the frame
  // with the same number (`matchFrame`), not the same place in its movie.
  frame: 0,
  notes: [], // notes of the version in slot A
  live: null,
};
const links = new MediaLinks((version, file) =>
  api(`/api/versions/${version}/files/${file}/media-url`, { method: "POST" }),
);
const thumbs = { urls: new Map(), observer: null }; // shot id -> blob URL, or null: no picture yet
const $ = (id) => document.getElementById(id);

// -- projects and shots -----------------------------------------------------------------------------

async function loadProjects() {
  const page = await api("/api/projects", { query: { limit: boot.page_size_max, sort: "name" } });
  const select = $("project");
  for (const project of page.items) {
    state.projects.set(project.id, project);
    select.append(el("option", { value: project.id, text: `${project.name} (${project.code})` }));
  }
}

async function chooseProject(projectId, shotId = null) {
  state.project = state.projects.get(projectId) || null;
  $("project").value = projectId || "";
  state.shot = null;
  $("shot-panel").hidden = true;
  if (state.live) state.live.stop();
  state.live = null;
  if (!state.project) return renderShots([]);
  // The stream opens and the list is read at once; LiveEvents reads the list and the shot again after a
  // hello that came later (and after a reconnect), so a change made meanwhile is not lost.
  // A read that fails is retried (with a notice that the list is out of date) until one succeeds.
  state.shots = [];
  const live = new LiveEvents({ projectId, onEvent: applyEvent, load: refreshShot });
  state.live = live;
  await live.start();
  if (state.live !== live) return; // another project was chosen meanwhile
  remember();
  const first = shotId && state.shots.find((s) => s.id === shotId);
  if (first) await chooseShot(first.id);
}

/** Run `work`, a read of what the stream changes, in turn with the stream's own rereads (`LiveEvents.read`),
 * so that an older read never lands after a newer one. Media are not read in turn: a movie slow to load
 * would hold every read behind it. */
function inTurn(work) {
  if (!state.live) return work();
  const live = state.live;
  // One that fails leaves versions or notes that may be out of date: LiveEvents says so and reads them again.
  return live.read(work).catch((error) => {
    live.readFailed(error);
    throw error;
  });
}

function renderShots(shots) {
  const list = $("shots");
  list.replaceChildren(
    ...shots.map((shot) =>
      el(
        "li",
        { class: "shot", dataset: { shotId: shot.id }, "aria-current": state.shot?.id === shot.id ? "true" : null },
        el(
          "button",
          { type: "button", class: "shot-pick", onclick: () => chooseShot(shot.id) },
          el("img", { class: "thumb", alt: "", dataset: { shotId: shot.id } }),
          el("b", { class: "code", text: shot.code }),
          el("span", { class: "status", dataset: { status: shot.status }, text: statusText(shot.status) }),
        ),
      ),
    ),
  );
  $("shots-empty").hidden = shots.length > 0 || !state.project;
  loadThumbnails();
}

function statusText(status) {
  return textOf(SHOT_STATUS_TEXTS, status);
}

/**
 * Each shot's newest thumbnail (an <img> cannot send the token, so a blob URL), fetched only for the shots
 * scrolled into view (a project may have hundreds), four at a time, and kept until the shot gets a version.
 */
function loadThumbnails() {
  if (thumbs.observer) thumbs.observer.disconnect();
  const pending = [];
  let running = 0;
  const pump = () => {
    while (running < 4 && pending.length) {
      const img = pending.shift();
      running += 1;
      thumbnailOf(img.dataset.shotId)
        .then((url) => url && (img.src = url))
        .finally(() => {
          running -= 1;
          pump();
        });
    }
  };
  thumbs.observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries.filter((e) => e.isIntersecting)) {
        thumbs.observer.unobserve(entry.target);
        pending.push(entry.target);
      }
      pump();
    },
    { root: document.querySelector(".shots-panel"), rootMargin: "300px" },
  );
  for (const img of document.querySelectorAll("#shots img.thumb")) {
    const known = thumbs.urls.get(img.dataset.shotId);
    if (known) img.src = known;
    else if (known === undefined) thumbs.observer.observe(img);
  }
}

async function thumbnailOf(shotId) {
  if (thumbs.urls.has(shotId)) return thumbs.urls.get(shotId);
  try {
    const page = await api(`/api/shots/${shotId}/versions`, { query: { limit: 20 } });
    const pictured = page.items.find((v) => v.thumbnail_url);
    const url = pictured ? await links.blob(pictured.thumbnail_url) : null;
    thumbs.urls.set(shotId, url);
    return url;
  } catch (error) {
    console.debug("no thumbnail for shot", shotId, error); // a thumbnail is decoration: the list works without
    return null;
  }
}

// -- a shot and its versions ------------------------------------------------------------------------

async function chooseShot(shotId) {
  state.shot = state.shots.find((s) => s.id === shotId) || null;
  for (const item of document.querySelectorAll("#shots .shot")) {
    item.toggleAttribute("aria-current", item.dataset.shotId === shotId);
  }
  if (!state.shot) return;
  remember();
  $("shot-panel").hidden = false;
  $("shot-code").textContent = state.shot.code;
  showShotStatus();
  const { fps, fps_decimal: decimal } = state.project;
  $("shot-rate").textContent = t("rate", { fps: String(Number(decimal.toFixed(3))), exact: fps });
  // Nothing of the shot shown before stays under this one's code (its versions, slots, notes: a note sent
  // now would go to its version): the room says it is loading this shot's versions until they are read.
  await clearShot();
  const live = state.live;
  try {
    await inTurn(loadVersions);
  } catch (error) {
    // LiveEvents reads the list and this shot (its versions and notes) again until a read succeeds: the
    // slots are filled then, unless the page moved on (another shot or project) meanwhile.
    if (!live) throw error;
    if (!(await live.untilRead()) || state.live !== live) return;
  }
  if (state.shot?.id !== shotId) return; // another shot was chosen meanwhile: its own choice fills the slots
  state.frame = 0;
  // A: the newest version; B: the newest of another stage (else the one before), to compare with.
  const a = state.versions[0] || null;
  const b = state.versions.find((v) => a && v.stage !== a.stage) || state.versions[1] || null;
  await setSlots(a?.id || null, b?.id || null);
}

/** Empty the versions, slots and notes (of the shot shown before) and say this shot's are loading. */
async function clearShot() {
  pause();
  state.versions = [];
  state.versionsRead = false;
  state.notes = [];
  state.frame = 0;
  await setSlots(null, null, { notes: false });
  $("notes-for").textContent = "";
  renderNotes();
  showFrame();
}

function showShotStatus() {
  const badge = $("shot-status");
  badge.dataset.status = state.shot.status;
  badge.textContent = statusText(state.shot.status);
}

async function loadVersions() {
  const since = performance.now();
  const shotId = state.shot.id;
  const page = await api(`/api/shots/${shotId}/versions`, { query: { limit: 200 } });
  if (state.shot?.id !== shotId) return; // another shot was chosen meanwhile: these are not its versions
  state.versionsRead = true;
  const shown = new Map(state.versions.map((version) => [version.id, version]));
  // A version an event brought while this was read stays, first (the newest), though the read lacks it.
  state.versions = merged(page.items, (id) => shown.get(id), state.versions, since);
  renderVersions();
}

async function refreshShot() {
  if (!state.project) return;
  const page = await api(`/api/projects/${state.project.id}/shots`, {
    query: { sort: "order", limit: boot.page_size_max },
  });
  const shown = new Map(state.shots.map((shot) => [shot.id, shot]));
  state.shots = newest(page.items, (id) => shown.get(id));
  renderShots(state.shots);
  if (state.shot) {
    state.shot = state.shots.find((s) => s.id === state.shot.id) || state.shot;
    showShotStatus();
    await loadVersions();
    await loadNotes();
  }
}

function byStage(versions) {
  const groups = new Map();
  for (const stage of STAGE_ORDER) groups.set(stage, []);
  for (const version of versions) groups.get(version.stage)?.push(version);
  return [...groups].filter(([, list]) => list.length);
}

function renderVersions() {
  const box = $("versions");
  box.replaceChildren(
    ...byStage(state.versions).map(([stage, list]) =>
      el(
        "div",
        { class: "stage", dataset: { stage } },
        el("h3", { text: textOf(STAGE_TEXTS, stage) }),
        ...list.map((v) =>
          el(
            "div",
            { class: "version", dataset: { versionId: v.id } },
            el("span", { class: "vcode", text: v.code }),
            el("span", {
              class: "verdict",
              dataset: { verdict: v.verdict || "" },
              text: v.verdict ? textOf(VERDICT_TEXTS, v.verdict) : "",
            }),
            el("button", {
              type: "button",
              class: "pick-a",
              text: "A",
              title: t("show_in_a"),
              "aria-pressed": String(state.slots.a === v.id),
              onclick: () => setSlots(v.id, state.slots.b === v.id ? state.slots.a : state.slots.b),
            }),
            el("button", {
              type: "button",
              class: "pick-b",
              text: "B",
              title: t("show_in_b"),
              "aria-pressed": String(state.slots.b === v.id),
              onclick: () => setSlots(state.slots.a === v.id ? state.slots.b : state.slots.a, v.id),
            }),
          ),
        ),
      ),
    ),
  );
  $("versions-empty").hidden = state.versions.length > 0 || !state.versionsRead;
  $("versions-loading").hidden = state.versions.length > 0 || state.versionsRead;
}

// -- the player -------------------------------------------------------------------------------------

function playable(version) {
  const files = version?.files || [];
  return (
    files.find((f) => f.media?.kind === "video" && f.mime === "video/mp4") ||
    files.find((f) => f.media?.kind === "video") ||
    files.find((f) => f.media?.kind === "image" && f.mime.startsWith("image/") && f.mime !== "image/x-exr") ||
    null
  );
}

function mediaOf(slot) {
  return $(`media-${slot}`).firstElementChild;
}

async function setSlots(a, b, { notes = true } = {}) {
  state.slots = { a, b };
  renderVersions();
  pause();
  await Promise.all([fillSlot("a", a), fillSlot("b", b)]);
  $("viewer").dataset.single = String(!b);
  if (!notes) return;
  await inTurn(loadNotes);
  seek(Math.min(state.frame, lastFrame()));
}

async function fillSlot(slot, versionId) {
  const version = state.versions.find((v) => v.id === versionId);
  const box = $(`media-${slot}`);
  const label = $(`label-${slot}`);
  box.replaceChildren();
  label.textContent = version ? `${textOf(STAGE_TEXTS, version.stage)} ${version.code}` : t("slot_empty");
  $(`range-${slot}`).textContent = "";
  $(`slot-${slot}`).dataset.versionId = version?.id || "";
  $(`slot-${slot}`).dataset.outside = "false";
  if (!version) return;
  const file = playable(version);
  if (!file) {
    box.append(el("p", { class: "muted", text: t("no_playable") }));
    return;
  }
  const url = await links.url(version.id, file.id);
  if (state.slots[slot] !== version.id) return; // another version (or shot) was chosen meanwhile
  if (file.media.kind === "image") {
    box.append(el("img", { src: url, alt: label.textContent, id: `img-${slot}` }));
    return;
  }
  const video = el("video", {
    id: `video-${slot}`,
    preload: "auto",
    playsinline: true,
    muted: slot === "b",
    dataset: { versionId: version.id, fileId: file.id },
  });
  video.muted = slot === "b"; // one sound at a time
  // A signed URL that expired while the page was open: ask for a new one and go on where it was.
  video.addEventListener("error", () => renewSource(video, version.id, file.id));
  video.addEventListener("seeked", showFrame);
  video.addEventListener("ended", () => video === videos()[0] && setPlaying(false)); // B may end first
  video.src = url;
  box.append(video, el("p", { class: "no-frame", id: `no-frame-${slot}` }));
  await new Promise((resolve) => {
    if (video.readyState >= 1) return resolve();
    video.addEventListener("loadedmetadata", resolve, { once: true });
    video.addEventListener("error", resolve, { once: true });
  });
  showRange(slot, version);
}

/** The frame numbers `slot`'s movie holds (e.g. "1001–1096"): B's may differ from A's, which the readout
 * shows; a frame of A's outside B's range is one B has none for. */
function showRange(slot, version) {
  const count = frameCount(slot);
  const first = firstNumber(version);
  $(`range-${slot}`).textContent = count ? `${first}–${first + count - 1}` : "";
}

async function renewSource(video, versionId, fileId) {
  // At most once a minute per player: a file the browser cannot decode must not become a loop of new URLs.
  const last = Number(video.dataset.renewedAt) || 0;
  if (Date.now() - last < RENEW_EVERY_MS) return toast(t("cannot_play"), "error");
  video.dataset.renewedAt = String(Date.now());
  links.forget(versionId, fileId);
  try {
    video.src = await links.url(versionId, fileId);
    place(slotOf(video)); // a new source starts at 0: back to the frame shown
  } catch (error) {
    toast(errorText(error), "error");
  }
}

function videos() {
  return ["a", "b"].map(mediaOf).filter((node) => node instanceof HTMLVideoElement);
}

function rate() {
  return { num: state.project.fps_num, den: state.project.fps_den };
}

function versionIn(slot) {
  return state.versions.find((v) => v.id === state.slots[slot]) || null;
}

function slotOf(node) {
  return node.closest(".slot").dataset.slot;
}

/** The frames of the movie in `slot`: as its version says, else as its player found; null while unknown. */
function frameCount(slot) {
  const video = mediaOf(slot);
  if (!(video instanceof HTMLVideoElement)) return null;
  if (versionIn(slot)?.frame_count) return versionIn(slot).frame_count;
  return Number.isFinite(video.duration) ? frameOf(video.duration, rate()) : null;
}

/** A's last frame (the player steps through A's frames; B's with the same numbers go with them). */
function lastFrame() {
  const counts = videos().map((v) => (Number.isFinite(v.duration) ? frameOf(v.duration, rate()) : 0));
  const known = frameCount("a") || versionIn("a")?.frame_count || Math.max(0, ...counts);
  return Math.max(0, known - 1);
}

/** Where `slot`'s movie shows the shot frame A shows (`outside`: it has none; `frame`: its nearest). */
function frameIn(slot) {
  // A still in A has no frames to match: B steps through its own, as before.
  const alone = slot === "a" || !(mediaOf("a") instanceof HTMLVideoElement);
  if (alone) return { frame: state.frame, outside: false };
  return matchFrame(state.frame, versionIn("a"), versionIn(slot), frameCount(slot));
}

/** Shows `slot`'s frame for the one A shows, or, where its movie has none, says so instead of a picture. */
function place(slot) {
  const video = mediaOf(slot);
  if (!(video instanceof HTMLVideoElement)) return;
  const { frame, outside } = frameIn(slot);
  markOutside(slot, outside);
  seekTo(video, timeOf(frame, rate()));
}

// Chromium now and then leaves a seek of a paused player unfinished (seeking, no decoded frame) when it
// comes right after playing: asked again, it finishes. A seek still open after this long is asked again.
const STALLED_SEEK_MS = 1500;

const seeksAsked = new WeakMap(); // player → how many seeks it was asked for

function seekTo(video, time) {
  video.currentTime = time;
  const asked = (seeksAsked.get(video) || 0) + 1;
  seeksAsked.set(video, asked);
  const check = () => {
    if (seeksAsked.get(video) !== asked || !video.seeking || !video.isConnected) return; // done, or asked anew
    video.currentTime = time;
    setTimeout(check, STALLED_SEEK_MS);
  };
  setTimeout(check, STALLED_SEEK_MS);
}

function markOutside(slot, outside) {
  $(`slot-${slot}`).dataset.outside = String(outside);
  const label = $(`no-frame-${slot}`);
  if (label) label.textContent = outside ? t("no_frame", { frame: numbered(state.frame) }) : "";
}

function seek(frame) {
  state.frame = Math.max(0, Math.min(frame, lastFrame()));
  for (const slot of ["a", "b"]) place(slot);
  showFrame();
}

function step(delta) {
  pause();
  seek(state.frame + delta);
}

/** The studio's number of `frame` (counted from the movie's first) of a version (default: A's), e.g. 1001. */
function numbered(frame, versionId = state.slots.a) {
  return firstNumber(state.versions.find((v) => v.id === versionId)) + frame;
}

function showFrame() {
  const lead = videos()[0];
  // At its end a playing movie's time is its duration, one frame past its last (1097 for 1001-1096).
  if (lead && !lead.paused) state.frame = Math.min(frameOf(lead.currentTime, rate()), lastFrame());
  $("frame-number").textContent = String(numbered(state.frame));
  const last = lastFrame();
  $("frame-total").textContent = last > 0 ? ` (${numbered(0)}–${numbered(last)})` : "";
  $("timecode").textContent = timecode(state.frame, rate());
  $("note-frame").textContent = String(numbered(state.frame));
  $("viewer").dataset.frame = String(state.frame);
}

function setPlaying(playing) {
  const button = $("play");
  button.dataset.playing = String(playing);
  button.textContent = playing ? t("pause") : t("play");
}

function pause() {
  for (const video of videos()) video.pause();
  setPlaying(false);
  const lead = videos()[0];
  if (lead) seek(frameOf(lead.currentTime, rate()));
}

async function play() {
  const all = videos();
  if (!all.length) return;
  if (state.frame >= lastFrame()) seek(0);
  setPlaying(true);
  const shown = all.filter((v) => $(`slot-${slotOf(v)}`).dataset.outside !== "true");
  await Promise.all(shown.map((v) => v.play().catch(() => null)));
  follow();
}

/** While playing, B follows A by frame number (corrected when it drifts more than half a frame; paused and
 * marked where it has no frame for A's, started again where it has) and the readout runs. */
function follow() {
  const [lead, ...others] = videos();
  if (!lead || lead.paused) return;
  showFrame();
  const period = state.project.fps_den / state.project.fps_num;
  for (const other of others) {
    const slot = slotOf(other);
    const { frame, outside } = frameIn(slot);
    markOutside(slot, outside);
    if (outside) {
      if (!other.paused) other.pause();
      continue;
    }
    if (other.ended) continue; // on its last frame, which A reaches a moment later
    // A's time moved by the frames between the two movies' same shot frame.
    const due = lead.currentTime + (frame - frameOf(lead.currentTime, rate())) * period;
    if (other.paused) {
      other.currentTime = due;
      other.play().catch(() => null);
    } else if (Math.abs(other.currentTime - due) > period / 2) other.currentTime = due;
  }
  requestAnimationFrame(follow);
}

// -- A/B wipe ----------------------------------------------------------------------------------------

function setMode(mode) {
  $("viewer").dataset.mode = mode;
  setWipe(mode === "wipe" ? Number($("wipe-divider").getAttribute("aria-valuenow")) : 100);
}

/** B is shown left of the divider, A right of it (percent of the viewer's width). */
function setWipe(percent) {
  const p = Math.max(0, Math.min(100, percent));
  const divider = $("wipe-divider");
  if ($("viewer").dataset.mode === "wipe") {
    divider.setAttribute("aria-valuenow", String(Math.round(p)));
    divider.style.left = `${p}%`;
    $("slot-b").style.clipPath = `inset(0 ${100 - p}% 0 0)`;
  } else {
    $("slot-b").style.clipPath = "";
  }
}

function dragWipe(event) {
  const box = $("viewer").getBoundingClientRect();
  setWipe(((event.clientX - box.left) / box.width) * 100);
}

function wireWipe() {
  const divider = $("wipe-divider");
  divider.addEventListener("pointerdown", (event) => {
    divider.setPointerCapture(event.pointerId);
    divider.addEventListener("pointermove", dragWipe);
  });
  divider.addEventListener("pointerup", (event) => {
    divider.releasePointerCapture(event.pointerId);
    divider.removeEventListener("pointermove", dragWipe);
  });
  divider.addEventListener("keydown", (event) => {
    const now = Number(divider.getAttribute("aria-valuenow"));
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      event.stopPropagation();
      setWipe(now + (event.key === "ArrowLeft" ? -5 : 5));
    }
  });
}

// -- notes and verdicts ------------------------------------------------------------------------------

async function loadNotes() {
  const versionId = state.slots.a;
  state.notes = [];
  const version = state.versions.find((v) => v.id === versionId);
  $("notes-for").textContent = version ? `${textOf(STAGE_TEXTS, version.stage)} ${version.code}` : "";
  if (versionId) {
    const page = await api(`/api/versions/${versionId}/reviews`, { query: { limit: boot.page_size_max } });
    if (state.slots.a !== versionId) return; // another version was chosen meanwhile
    state.notes = page.items;
  }
  renderNotes();
}

function renderNotes() {
  $("notes").replaceChildren(
    ...state.notes.map((note) =>
      el(
        "li",
        { class: "note", dataset: { reviewId: note.id, verdict: note.verdict || "" } },
        note.frame !== null
          ? el("button", {
              type: "button",
              class: "link at-frame",
              text: t("at_frame", { frame: numbered(note.frame, note.version_id) }),
              onclick: () => {
                pause();
                seek(note.frame);
              },
            })
          : null,
        note.verdict ? el("span", { class: "verdict", dataset: { verdict: note.verdict }, text: textOf(VERDICT_TEXTS, note.verdict) }) : null,
        el("span", { class: "note-text", text: note.text }),
        el("span", { class: "muted", text: `— ${note.author_name}, ${new Date(note.created_at).toLocaleString(boot.lang)}` }),
      ),
    ),
  );
  $("notes-empty").hidden = state.notes.length > 0;
}

function applyRoles() {
  const noteOk = can("shot:edit");
  const verdictOk = can("shot:approve");
  $("send-note").disabled = !noteOk;
  $("send-note").title = noteOk ? "" : t("needs_shot_edit");
  $("note-text").disabled = !noteOk && !verdictOk;
  for (const verdict of VERDICTS) {
    const button = $(`verdict-${verdict}`);
    button.disabled = !verdictOk;
    button.title = verdictOk ? "" : t("needs_shot_approve");
  }
}

async function sendReview(verdict) {
  const versionId = state.slots.a;
  if (!versionId) return toast(t("choose_version"), "error");
  const text = $("note-text").value.trim();
  if (!verdict && !text) return toast(t("note_needs_text"), "error");
  const body = { text };
  if (verdict) body.verdict = verdict;
  // Stored counted from the movie's first frame (the add-on's markers read it so); shown as the shot's number.
  if ($("note-at-frame").checked) body.frame = state.frame;
  try {
    const result = await api(`/api/versions/${versionId}/reviews`, { method: "POST", body });
    $("note-text").value = "";
    addNote(result);
    const version = state.versions.find((v) => v.id === versionId);
    if (version) version.verdict = result.version_verdict;
    if (state.shot) {
      state.shot.status = result.shot_status;
      showShotStatus();
    }
    renderVersions();
    toast(verdict ? t("verdict_sent", { verdict: textOf(VERDICT_TEXTS, verdict) }) : t("note_sent"));
  } catch (error) {
    toast(errorText(error), "error");
  }
}

function addNote(note) {
  if (note.version_id !== state.slots.a || state.notes.some((n) => n.id === note.id)) return;
  state.notes.push(note);
  renderNotes();
}

// -- live events ------------------------------------------------------------------------------------

function applyEvent(event) {
  const data = event.data || {};
  if (event.action === "review.created") addNote(data);
  else if (event.action === "version.updated" || event.action === "version.created") {
    if (event.action === "version.created" && thumbs.urls.get(data.shot_id) === null) {
      thumbs.urls.delete(data.shot_id); // its first picture
      loadThumbnails();
    }
    if (!state.shot || data.shot_id !== state.shot.id) return;
    const at = state.versions.findIndex((v) => v.id === data.id);
    if (at >= 0) state.versions[at] = arrived(data);
    else state.versions.unshift(arrived(data));
    renderVersions();
  } else if (event.action === "shot.updated" || event.action === "shot.created") {
    const at = state.shots.findIndex((s) => s.id === data.id);
    // An older revision than the one shown (events do not always arrive in revision order) changes nothing.
    const known = at >= 0 ? state.shots[at] : state.shot && state.shot.id === data.id ? state.shot : null;
    if (!newer(known, data)) return;
    if (at >= 0) {
      state.shots[at] = data;
      const badge = document.querySelector(`#shots .shot[data-shot-id="${data.id}"] .status`);
      if (badge) {
        badge.dataset.status = data.status;
        badge.textContent = statusText(data.status);
      }
    }
    if (state.shot && data.id === state.shot.id) {
      state.shot = data;
      showShotStatus();
    }
  }
}

// -- wiring -----------------------------------------------------------------------------------------

function remember() {
  const url = new URL(location.href);
  url.searchParams.delete("project");
  url.searchParams.delete("shot");
  if (state.project) url.searchParams.set("project", state.project.id);
  if (state.shot) url.searchParams.set("shot", state.shot.id);
  history.replaceState(null, "", url);
}

function wireKeys() {
  document.addEventListener("keydown", (event) => {
    const typing = event.target instanceof HTMLTextAreaElement || event.target instanceof HTMLInputElement ||
      event.target instanceof HTMLSelectElement;
    if (typing || !state.shot) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      step((event.key === "ArrowLeft" ? -1 : 1) * (event.shiftKey ? 10 : 1));
    } else if (event.key === " " || event.key === "k") {
      event.preventDefault();
      $("play").dataset.playing === "true" ? pause() : play();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      step(event.key === "Home" ? -Infinity : Infinity);
    }
  });
}

async function main() {
  await requireLogin();
  applyRoles();
  $("project").addEventListener("change", (event) => chooseProject(event.target.value));
  $("play").addEventListener("click", () => ($("play").dataset.playing === "true" ? pause() : play()));
  $("step-back").addEventListener("click", () => step(-1));
  $("step-forward").addEventListener("click", () => step(1));
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => setMode(radio.value));
  }
  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendReview(null);
  });
  for (const verdict of VERDICTS) $(`verdict-${verdict}`).addEventListener("click", () => sendReview(verdict));
  wireWipe();
  wireKeys();
  // A failed read of the projects is said on screen and retried until it succeeds (the menu fills then).
  await readRetried(loadProjects);
  const params = new URLSearchParams(location.search);
  const projectId = params.get("project") || (state.projects.size === 1 ? [...state.projects.keys()][0] : null);
  if (projectId) await chooseProject(projectId, params.get("shot"));
  $("review").dataset.ready = "true";
}

main().catch((error) => toast(errorText(error), "error"));
