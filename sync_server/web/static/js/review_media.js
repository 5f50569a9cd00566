// Frames and timecode at an exact rational rate, and the signed media URLs the review room plays from.
import { accessToken } from "./api.js";

const RENEW_BEFORE_MS = 60_000; // ask for a new URL when the cached one has less than this left
// Where a shot's cut starts when its media does not say (the add-on's layout: blender_addon/layout/opsdata.py).
export const CUT_START = 1001;

/** The studio's number of a version's first media frame: as its maker numbered it (`first_frame`: 1001 for a
 * playblast of the cut 1001–1084, 993 for a render with 8 frames of head handle), else as the add-on lays the
 * shot out (the cut at 1001, the head handle the movie holds before it). The player and the notes count
 * frames from the movie's first (0, as the API stores a note's frame); the room shows this number plus that. */
export function firstNumber(version) {
  if (!version) return CUT_START;
  if (Number.isInteger(version.first_frame)) return version.first_frame;
  return CUT_START - (Number(version.handle_in) || 0);
}

/** Where `to`'s movie shows the shot frame that `from`'s movie shows at `frame` (each counted from its movie's
 * first, 0): the same number (`firstNumber`), not the same place in the movie — frame 1001 of a playblast
 * that starts at 1001 (its 0) is the 8th (8) of a render that starts at 993. `outside`: `to` has no picture
 * for it (before its first frame, or past its `count` frames when known); `frame` is then its nearest one. */
export function matchFrame(frame, from, to, count = null) {
  const same = frame + firstNumber(from) - firstNumber(to);
  const last = count ? count - 1 : Infinity;
  return { frame: Math.max(0, Math.min(same, last)), outside: same < 0 || same > last };
}

/** The frame (0 = the movie's first) shown at `seconds`, at `rate` = {num, den} frames per second. */
export function frameOf(seconds, { num, den }) {
  // A hair over the boundary counts as the next frame; float seconds are never exactly on it.
  return Math.max(0, Math.floor((seconds * num) / den + 1e-6));
}

/** The time to seek to for `frame`: the middle of the frame, so that decoders never land on its neighbour. */
export function timeOf(frame, { num, den }) {
  return ((frame + 0.5) * den) / num;
}

/** 29.97 and 59.94 count drop-frame timecode, as the server's EDL and XML do (editorial/timeline.py). */
export function isDropFrame({ num, den }) {
  return den === 1001 && (num === 30000 || num === 60000);
}

/** Timecode of `frame` at the rate's nominal whole rate (24 for 23.976): HH:MM:SS:FF, or HH:MM:SS;FF
 * drop-frame at 29.97 / 59.94 (frame numbers 0–1 (0–3) skipped at each minute but every tenth), so the
 * review room reads the same timecode as the EDL of the same edit. */
export function timecode(frame, rate) {
  const { num, den } = rate;
  const base = Math.max(1, Math.round(num / den));
  let counted = frame;
  const drop = isDropFrame(rate);
  if (drop) {
    const dropped = base / 15; // 2 at 29.97, 4 at 59.94
    const perMinute = base * 60 - dropped;
    const perTen = perMinute * 10 + dropped;
    const tens = Math.floor(frame / perTen);
    const rest = frame % perTen;
    counted += dropped * 9 * tens + (rest > dropped ? dropped * Math.floor((rest - dropped) / perMinute) : 0);
  }
  const pad = (n) => String(n).padStart(2, "0");
  const ff = counted % base;
  const total = Math.floor(counted / base);
  const clock = `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}`;
  return `${clock}${drop ? ";" : ":"}${pad(ff)}`;
}

/** Signed media URLs (one file each, short-lived), cached until shortly before they expire. */
export class MediaLinks {
  constructor(ask) {
    this.ask = ask; // (versionId, fileId) => Promise<{url, expires_at}>
    this.cache = new Map();
    this.blobs = new Map();
  }

  async url(versionId, fileId) {
    const key = `${versionId}/${fileId}`;
    const cached = this.cache.get(key);
    if (cached && cached.expires - Date.now() > RENEW_BEFORE_MS) return cached.url;
    const link = await this.ask(versionId, fileId);
    this.cache.set(key, { url: link.url, expires: Date.parse(link.expires_at) });
    return link.url;
  }

  forget(versionId, fileId) {
    this.cache.delete(`${versionId}/${fileId}`);
  }

  /** A small API file (a thumbnail) fetched with the token, as a blob: URL for an <img>. */
  async blob(path) {
    if (this.blobs.has(path)) return this.blobs.get(path);
    const token = await accessToken();
    let response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) {
      response = await fetch(path, { headers: { Authorization: `Bearer ${await accessToken(token)}` } });
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    this.blobs.set(path, url);
    return url;
  }
}
