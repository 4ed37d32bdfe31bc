/**
 * Follows a run's event stream to its `done`, reconnecting after network drops with
 * `Last-Event-ID` (the server replays what was missed). Framework-free: the hook drives it.
 */

import { ApiError, isAbortError } from "../../api/errors";
import type { WarrenApi } from "../../api/endpoints";
import { RUN_EVENT_TYPES, type RunEvent } from "../../api/types";
import { readSse } from "../../lib/sse";

export type Connection = "idle" | "connecting" | "streaming" | "reconnecting";

/** How a follow ended: the run finished, the caller aborted, or the stream cannot be resumed. */
export type FollowOutcome = "done" | "aborted" | { gone: ApiError | null };

export interface FollowOptions {
  api: Pick<WarrenApi["runs"], "joinStream" | "list">;
  threadId: string;
  /** `null` while starting: learnt from the first event (or from the latest run after a drop). */
  runId: string | null;
  lastEventId: string | null;
  /** An already open stream (the response of starting the run). */
  response?: Response;
  signal: AbortSignal;
  onEvent: (id: string | null, event: RunEvent) => void;
  onConnection: (state: Connection) => void;
  /** Delay before reconnect attempt `n` (0-based); exponential with jitter by default. */
  backoff?: (attempt: number) => number;
  /** Reconnect when the server is silent this long (it pings every 15 s). */
  idleMs?: number;
}

export const STREAM_IDLE_MS = 45_000;

const KNOWN = new Set<string>(RUN_EVENT_TYPES);

export function defaultBackoff(attempt: number): number {
  const base = Math.min(10_000, 500 * 2 ** attempt);
  return base / 2 + Math.random() * (base / 2);
}

const browser = typeof window === "undefined" ? null : window;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      browser?.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    // back online: retry now rather than at the end of the backoff
    browser?.addEventListener("online", done, { once: true });
  });
}

/** Parse one SSE frame into a run event; unknown types (added later) are skipped. */
export function parseRunEvent(event: string, data: string): RunEvent | null {
  if (!KNOWN.has(event)) return null;
  try {
    const parsed = JSON.parse(data) as Partial<RunEvent> | null;
    if (!parsed || typeof parsed !== "object" || typeof parsed.run_id !== "string") return null;
    return { ...parsed, type: event } as RunEvent;
  } catch {
    return null;
  }
}

export async function followRun(options: FollowOptions): Promise<FollowOutcome> {
  const { api, threadId, signal, onEvent, onConnection } = options;
  const backoff = options.backoff ?? defaultBackoff;
  let runId = options.runId;
  let lastEventId = options.lastEventId;
  let response = options.response ?? null;
  let attempt = 0;
  const aborted = () => signal.aborted; // read afresh after every await

  for (;;) {
    if (aborted()) return "aborted";
    try {
      if (!response) {
        if (!runId) {
          // the stream broke before its first event: the run to follow is the newest one
          const latest = await api.list(threadId, 1, signal);
          runId = latest.data[0]?.run_id ?? null;
          if (!runId) return { gone: null };
        }
        onConnection(attempt === 0 ? "connecting" : "reconnecting");
        response = await api.joinStream(threadId, runId, lastEventId, signal);
      }
      const body = response.body;
      response = null;
      if (!body) throw new TypeError("the stream has no body");
      onConnection("streaming");
      for await (const frame of readSse(body, lastEventId ?? "", options.idleMs ?? STREAM_IDLE_MS)) {
        const event = parseRunEvent(frame.event, frame.data);
        if (!event) continue;
        runId ??= event.run_id;
        const id = frame.id || null;
        onEvent(id, event);
        if (id) lastEventId = id;
        attempt = 0;
        if (event.type === "done") return "done";
      }
      // closed without `done` (a proxy timeout, a server restart): resume
    } catch (error) {
      if (aborted() || isAbortError(error)) return "aborted";
      // 400 (bad id), 404 (deleted), 410 (expired), 401 (signed out): retrying cannot help
      if (error instanceof ApiError && !error.transient) return { gone: error };
    }
    if (aborted()) return "aborted";
    onConnection("reconnecting");
    await sleep(backoff(attempt), signal);
    attempt += 1;
  }
}
