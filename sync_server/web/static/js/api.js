// Shared by every page: the page's boot data and texts, the login session (tokens), JSON API calls with
// refresh on 401, the live event stream (reconnects and resumes from the last event id), and small UI helpers.
// The refresh token is kept in localStorage (like the add-on keeps it on disk): a dashboard stays logged in
// across reloads and browser restarts until "Log out". Refresh tokens are single-use, so tabs refresh one at a
// time (Web Locks where the browser offers them) and pick up a pair another tab already fetched.

const SESSION_KEY = "aipipe.session";
const LOCK_NAME = "aipipe-token-refresh";
const EARLY_REFRESH_MS = 30_000; // refresh an access token this long before it expires
const SEEN_EVENTS = 5000; // event ids a live stream remembers, so that none is handled twice
const RETRY_FIRST_MS = 1000; // a failed read of a live page's data is tried again after this (jittered),
const RETRY_MAX_MS = 30_000; // doubling up to this, until it succeeds
// A live page's first read waits this long at most for its event stream's hello: read after the hello, the data
// misses nothing the stream does not bring, and is read once; read before it, it is read again at the hello.
const HELLO_WAIT_MS = 1000;

export const boot = JSON.parse(document.getElementById("aipipe-boot").textContent);

/** The page text for `key` in the chosen language, with {name} placeholders filled from `vars`. A key is
 * always written out in full (never built from a value), so that tests/web/test_farm_dashboard_texts.py sees
 * every key a page uses: a text chosen by a value goes through a `*_TEXTS` table and `textOf`. */
export function t(key, vars = {}) {
  const text = boot.texts[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** The text for `value` by `table` (value → text key, e.g. `{ on: "live_on" }`, named `*_TEXTS`); the value
 * itself where the table lacks it (a value newer than the page). */
export function textOf(table, value, vars = {}) {
  return Object.hasOwn(table, value) ? t(table[value], vars) : String(value);
}

const ROLE_TEXTS = {
  admin: "role_admin",
  director: "role_director",
  editor: "role_editor",
  artist: "role_artist",
  wrangler: "role_wrangler",
  agent: "role_agent",
};
const LIVE_TEXTS = { on: "live_on", off: "live_off", connecting: "live_connecting" }; // the event stream's state

// -- session ---------------------------------------------------------------------------------------

export function loadSession() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

function saveSession(pair) {
  const session = {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    access_expires_at: Date.now() + pair.expires_in * 1000,
    user: pair.user,
  };
  localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** Whether the logged-in user's role holds `permission` (the server's role matrix, sent with the page). */
export function can(permission) {
  const session = loadSession();
  return Boolean(session && (boot.roles[session.user.role] || []).includes(permission));
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

/** Log in with a user name and password; keeps the token pair. */
export async function login(username, password) {
  const response = await fetch("/api/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return saveSession(body);
}

export async function logout() {
  const session = loadSession();
  clearSession();
  if (session) {
    await fetch("/api/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    }).catch(() => null);
  }
  goToLogin();
}

/** Whether `error` is the login refused (401: the refresh token unknown, expired or used), as opposed to a read
 * that failed on the way (no network, a server restarting: tried again, the session kept). */
export function refused(error) {
  return error instanceof ApiError && error.status === 401;
}

export function goToLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function withRefreshLock(work) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(LOCK_NAME, work);
  return work();
}

/** A fresh access token: refreshed (once, across tabs) when `used` was refused or it is about to expire. Only a
 * refused refresh (401) forgets the session; a refresh that fails otherwise (no network: a TypeError; a 5xx
 * while the server restarts) throws and keeps it, so that the caller's retry can refresh again. */
export async function accessToken(used = null) {
  let session = loadSession();
  if (!session) throw new ApiError(401, { detail: "not logged in" });
  const stale = () =>
    (used && session.access_token === used) || session.access_expires_at - Date.now() < EARLY_REFRESH_MS;
  if (!stale()) return session.access_token;
  return withRefreshLock(async () => {
    session = loadSession(); // another tab may have refreshed while we waited for the lock
    if (!session) throw new ApiError(401, { detail: "logged out" });
    if (!stale()) return session.access_token;
    const response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
    });
    if (!response.ok) {
      const now = loadSession();
      if (now && now.refresh_token !== session.refresh_token) return now.access_token;
      const problem = await response.json().catch(() => null);
      if (response.status === 401) clearSession();
      throw new ApiError(response.status, problem);
    }
    return saveSession(await response.json()).access_token;
  });
}

/** Call the JSON API: `api("/api/farm/jobs", {query: {status: "queued"}})`; refreshes once on 401. A refused
 * login goes to the login page; a token refresh that failed on the way throws like any failed read. */
export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") url.searchParams.append(key, item);
    }
  }
  let token;
  try {
    token = await accessToken();
  } catch (error) {
    if (refused(error)) goToLogin();
    throw error;
  }
  const send = (bearer) =>
    fetch(url, {
      method,
      headers: {
        Authorization: `Bearer ${bearer}`,
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  let response = await send(token);
  if (response.status === 401) {
    try {
      response = await send(await accessToken(token));
    } catch (error) {
      if (refused(error)) goToLogin();
      throw error;
    }
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { detail: data });
  return data;
}

/** The logged-in user (checked with the server), or a trip to the login page. A read that fails otherwise
 * (a 500, no network) is said on screen and retried as the page's data is (`readRetried`): the page goes on
 * starting once it succeeds, without a reload. */
export async function requireLogin() {
  if (!loadSession()) {
    goToLogin();
    return new Promise(() => {});
  }
  let me;
  try {
    await readRetried(async () => {
      me = await api("/api/users/me");
    });
  } catch (error) {
    // Refused (401 after the token refresh): on the way to the login page, the page starts no further.
    if (refused(error)) return new Promise(() => {});
    throw error;
  }
  const session = loadSession();
  if (session && session.user.role !== me.role) {
    session.user = { ...session.user, role: me.role };
    localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  }
  showUser(me);
  return me;
}

// -- live events -----------------------------------------------------------------------------------

/** Whether `incoming` (a record as an event brings it) may replace `old`: not an older revision. Events do
 * not always arrive in revision order (an import's child process may follow the server's own later edit,
 * docs/events.md). */
export function newer(old, incoming) {
  return !old || (incoming.revision ?? 0) >= (old.revision ?? 0);
}

/** The records a read returned, each replaced by the page's own (`known(id)`) where that is a newer revision:
 * an event that came while the read was on its way. */
export function newest(records, known) {
  return records.map((record) => {
    const old = known(record.id);
    return newer(old, record) ? record : old;
  });
}

/** Mark `record` as brought by an event (or an action's answer) now; see `merged`. */
export function arrived(record) {
  record.arrived = performance.now();
  return record;
}

/** What a read that began at `since` (`performance.now()`) leaves the page: the records it returned, each
 * kept as the page's own where that is a newer revision (`newest`), and before them the page's records
 * (`local`) that an event brought after `since` and the read did not have yet (it was taken before them). */
export function merged(records, known, local, since) {
  const read = newest(records, known);
  const ids = new Set(read.map((record) => record.id));
  const later = [...local].filter((record) => !ids.has(record.id) && (record.arrived ?? -Infinity) >= since);
  return [...later, ...read];
}

/**
 * A page's reads of its data (`load`), one at a time, retried until one succeeds. Reads run in turn through
 * `read()`, so an older read never lands after a newer one. A read that fails (the first, a reread, or a
 * page's own read it reports with `readFailed`) leaves the page showing data that may miss changes: a notice
 * in the top bar says so (since when), the live badge says the data is not up to date, and the data is read
 * again after 1 s, doubling to 30 s (jittered), at once when the browser comes back online or the tab becomes
 * visible (or the notice's "Retry now"), until a read succeeds (the notice goes) or the page stops it. A
 * refused login (401 after the token refresh) goes to the login page instead. `start()` resolves once the
 * data has been read (after retries, if need be), or when the page stops it. `LiveEvents` is one (the data an
 * event stream keeps up to date); `readRetried()` reads data no stream changes (a page's list of projects).
 */
export class DataReads {
  constructor({ load = async () => {} } = {}) {
    this.load = load;
    this.stopped = false;
    this.reading = Promise.resolve(); // the last read asked for; the next one waits for it
    this.rereading = null; // a reread asked for and not yet begun
    this.stale = false; // a read of the page's data failed, and none has succeeded since
    this.readAt = null; // when (Date.now()) a read of the page's data last succeeded; null: never
    this.retryMs = RETRY_FIRST_MS; // the wait before the next retry (before jitter)
    this.retryTimer = null; // the retry waiting for its time
    this.waiting = []; // callers waiting for a read that succeeds (true) or for the stop (false)
    addEventListener("online", () => this.kick());
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && this.kick());
  }

  /** Read the page's data (`first`, by default `load`) at once; resolves once read. */
  async start(first = this.load) {
    this.stopped = false;
    try {
      await this.read(first);
      this.readOk();
    } catch (error) {
      if (!this.readFailed(error)) throw error;
      await this.untilRead();
    }
    return this;
  }

  /** Run `work`, a read of the page's data, after the reads asked for before it; resolves with its result. */
  read(work = this.load) {
    const turn = this.reading.then(() => work());
    this.reading = turn.catch(() => undefined); // the caller hears of a failure; the next read runs anyway
    return turn;
  }

  /** Read the page's data again after the read running now: once, however often it is asked meanwhile. */
  reload() {
    if (!this.rereading) {
      this.rereading = this.read(() => {
        this.rereading = null;
        return this.stopped ? undefined : this.load(); // a stopped page has moved on
      });
      clearTimeout(this.retryTimer); // this read is the retry
      this.retryTimer = null;
      this.rereading.then(
        () => this.readOk(),
        (error) => this.readFailed(error),
      );
    }
    return this.rereading;
  }

  /** Resolves true once the page's data is up to date (at once if it is: no read failed since the last that
   * succeeded), false if the page stops this first. */
  untilRead() {
    if (this.stopped) return Promise.resolve(false);
    if (!this.stale) return Promise.resolve(true);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A read of the page's data succeeded: it is up to date (the notice goes, the back-off starts over). */
  readOk() {
    if (this.stopped) return;
    this.readAt = Date.now();
    this.retryMs = RETRY_FIRST_MS;
    if (this.stale) {
      this.stale = false;
      showStale(this, false);
    }
    for (const resolve of this.waiting.splice(0)) resolve(true);
  }

  /** A read of the page's data failed: say so and read it again after the back-off. Returns false where the
   * login was refused (401 after the token refresh): the page goes to the login page instead. */
  readFailed(error) {
    if (this.stopped) return true;
    if (refused(error)) {
      goToLogin();
      return false;
    }
    console.warn("live: the page's data was not read; trying again", error);
    this.stale = true;
    showStale(this, true);
    if (!this.rereading && !this.retryTimer) {
      const wait = this.retryMs * (0.75 + Math.random() / 2);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      this.retryTimer = this.later(() => {
        this.retryTimer = null;
        this.reload();
      }, wait);
    }
    return true;
  }

  /** Retry a failed read now, rather than at the back-off's time (back online, tab shown, "Retry now"). */
  retryNow() {
    if (this.stopped || !this.retryTimer) return; // nothing waits, or a read is on its way
    this.retryMs = RETRY_FIRST_MS;
    this.reload();
  }

  /** `setTimeout`; a test may replace it to run the retries when it says. */
  later(work, ms) {
    return setTimeout(work, ms);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stale) showStale(this, false); // the page has moved on from this data
    this.stale = false;
    for (const resolve of this.waiting.splice(0)) resolve(false);
  }

  kick() {
    this.retryNow();
  }
}

/** Read data that no event stream keeps up to date (`work`, e.g. a page's list of projects) as a page's data
 * is read (`DataReads`): a read that fails is said on screen and retried until one succeeds; resolves then. */
export async function readRetried(work) {
  const reads = await new DataReads({ load: work }).start();
  reads.stop(); // read: nothing more to retry
}

/**
 * The WebSocket /api/events stream, and the page's reads of its data kept in step with it. Calls
 * `onEvent(message)` for each event; other messages (`type` not "event") go to `onMessage`. Reconnects with
 * back-off and resumes after the last event id it saw, so a page left open for a day misses nothing; a
 * connection that goes silent past the server's ping interval is treated as dead.
 *
 * `start()` opens the stream and reads the page's data (`load`) at once, without waiting for the stream: a
 * page whose stream hangs (a proxy that holds the upgrade) still shows its data. A stream sends only what
 * follows its hello, so a read that began before the hello may lack a change made meanwhile: after that hello
 * the page's data is read once more (and after every reconnect, for things that are not events, such as
 * progress). Reads run one at a time and failed ones are retried, as `DataReads` says.
 */
export class LiveEvents extends DataReads {
  constructor({ onEvent, load = async () => {}, onMessage = () => {}, projectId = null, since = null } = {}) {
    super({ load });
    this.onEvent = onEvent;
    this.onMessage = onMessage;
    this.projectId = projectId;
    this.lastId = since;
    this.seen = new Set(); // ids of the last SEEN_EVENTS events handled, oldest first
    this.delay = 500;
    this.socket = null;
    this.connects = 0;
    this.confirmed = false; // the open connection has said hello: it sends every change from then on
    this.unconfirmed = false; // a read began while it had not: read again at the next hello
    this.watchdog = null;
    this.greeted = null; // ends the first read's wait for the hello (`start`)
    this.helloWaitMs = HELLO_WAIT_MS; // the longest wait (0: read at once)
    this.silenceMs = (boot.ws_ping_interval_s || 20) * 2500;
  }

  /** Open the stream and read the page's data (`first`, by default `load`) as soon as the stream says hello
   * (or fails, or HELLO_WAIT_MS have passed); resolves once read. */
  async start(first = this.load) {
    this.stopped = false;
    const greeted =
      this.helloWaitMs > 0 &&
      new Promise((resolve) => {
        this.greeted = resolve;
        setTimeout(resolve, this.helloWaitMs);
      });
    this.connect();
    await greeted;
    this.greeted = null;
    if (this.stopped) return this; // the page moved on meanwhile (another project chosen)
    return super.start(first);
  }

  /** The first read need wait no longer for the stream: it said hello, or it will not soon. */
  greet() {
    if (this.greeted) this.greeted();
  }

  read(work = this.load) {
    return super.read(() => {
      if (!this.confirmed) this.unconfirmed = true;
      return work();
    });
  }

  stop() {
    super.stop();
    this.greet();
    clearTimeout(this.watchdog);
    if (this.socket) this.socket.close(1000);
  }

  kick() {
    super.kick();
    if (!this.stopped && (!this.socket || this.socket.readyState > WebSocket.OPEN)) {
      this.delay = 500;
      this.connect();
    }
  }

  async connect() {
    setLiveState(this.connects ? "connecting" : "off");
    let token;
    try {
      token = await accessToken();
    } catch (error) {
      this.tokenFailed(error);
      return;
    }
    const url = new URL("/api/events", location.origin);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", token);
    if (this.projectId) url.searchParams.set("project_id", this.projectId);
    if (this.lastId !== null) url.searchParams.set("since", String(this.lastId));
    const socket = new WebSocket(url);
    this.socket = socket;
    const resumed = this.lastId !== null;
    socket.onmessage = (raw) => {
      this.arm();
      const message = JSON.parse(raw.data);
      if (message.type === "hello") {
        if (this.lastId === null) this.lastId = message.last_event_id;
        this.delay = 500;
        this.connects += 1;
        setLiveState("on");
        const again = resumed || this.unconfirmed;
        this.confirmed = true;
        this.unconfirmed = false;
        this.greet();
        if (again && !this.stopped) this.reload();
      } else if (message.type === "event") {
        // Ids do not always arrive in increasing order: the server's own commits may overtake a child
        // process's events, which follow with lower ids (docs/events.md). Only an event already handled is
        // skipped; the resume point is the last event received, not the highest id.
        if (this.seen.has(message.id)) return;
        this.seen.add(message.id);
        if (this.seen.size > SEEN_EVENTS) this.seen.delete(this.seen.values().next().value);
        this.lastId = message.id;
        this.onEvent(message);
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else {
        this.onMessage(message);
      }
    };
    socket.onclose = (closed) => {
      clearTimeout(this.watchdog);
      if (this.socket !== socket) return;
      this.confirmed = false;
      this.greet();
      if (this.stopped) return;
      setLiveState("connecting");
      // 1008: the token was refused; the next connect refreshes it first.
      if (closed.code === 1008) this.forceRefresh = token;
      this.reconnectLater();
    };
    this.arm();
  }

  /** Connect again after the back-off (jittered, doubling up to 15 s). */
  reconnectLater() {
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, 15_000);
    setTimeout(() => this.reconnect(), wait);
  }

  /** The token for the stream could not be had: a refused login goes to the login page; a refresh that failed
   * on the way (no network, the server restarting) is tried again with the next connect. */
  tokenFailed(error) {
    if (refused(error)) {
      goToLogin();
      return;
    }
    this.greet();
    if (this.stopped) return;
    console.warn("live: no access token for the event stream; trying again", error);
    setLiveState("connecting");
    this.reconnectLater();
  }

  async reconnect() {
    if (this.stopped) return;
    if (this.forceRefresh) {
      try {
        await accessToken(this.forceRefresh);
      } catch (error) {
        this.tokenFailed(error);
        return;
      }
      this.forceRefresh = null;
    }
    this.connect();
  }

  arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.socket && this.socket.close(4000, "silent"), this.silenceMs);
  }
}

// The reads whose data is out of date (`DataReads` whose read failed): the notice shows while there is one.
const staleReads = new Set();
let connection = "off"; // the event stream's state, as the live badge shows it

/** Show (or hide) the notice that the page's data of `reads` is out of date, with the time it was last read
 * (the oldest, where several are; "could not load" where one was never read). */
function showStale(reads, stale) {
  if (stale) staleReads.add(reads);
  else staleReads.delete(reads);
  showLiveState();
  const banner = document.getElementById("stale");
  if (!banner) return;
  banner.hidden = staleReads.size === 0;
  if (banner.hidden) return;
  const times = [...staleReads].map((r) => r.readAt);
  const clock = { hour: "2-digit", minute: "2-digit" };
  const at = !times.includes(null) && new Date(Math.min(...times)).toLocaleTimeString(boot.lang, clock);
  banner.querySelector(".stale-text").textContent = at ? t("stale_since", { time: at }) : t("stale_never");
  banner.querySelector("button").onclick = () => [...staleReads].forEach((r) => r.retryNow());
}

function setLiveState(state) {
  connection = state;
  showLiveState();
}

/** The live badge: the stream's state (data-state), and whether the page's data is out of date (data-stale):
 * a live stream over data that could not be read says so rather than plain "Live". */
function showLiveState() {
  const badge = document.getElementById("live-state");
  if (!badge) return;
  const stale = staleReads.size > 0;
  badge.dataset.state = connection;
  badge.dataset.stale = String(stale);
  badge.textContent = stale && connection === "on" ? t("live_stale") : textOf(LIVE_TEXTS, connection);
}

// -- small UI helpers ------------------------------------------------------------------------------

/** Create an element: `el("td", {class: "x", text: "y"}, child, …)`. Text is never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function toast(message, kind = "ok") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(() => (box.hidden = true), kind === "error" ? 8000 : 4000);
}

/** A yes/no question in a modal dialog; resolves true for yes. */
export function confirmDialog(question) {
  return new Promise((resolve) => {
    const dialog = el(
      "dialog",
      { class: "confirm", id: "confirm-dialog" },
      el("p", { text: question }),
      el(
        "form",
        { method: "dialog" },
        el("button", { value: "no", id: "confirm-no", text: t("confirm_no") }),
        el("button", { value: "yes", id: "confirm-yes", class: "primary", text: t("confirm_yes") }),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A user-facing message for a failed call, in the page's language. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return t("error_network");
  if (error.status === 403) return `${t("error_forbidden")} (${error.message})`;
  return error.message;
}

function showUser(me) {
  const who = document.getElementById("who");
  who.textContent = `${me.display_name || me.username} · ${textOf(ROLE_TEXTS, me.role)}`;
  who.hidden = false;
  const out = document.getElementById("logout");
  out.hidden = false;
  out.onclick = () => logout();
}
