/**
 * A live run's view model, saved per thread in sessionStorage (this tab only), so a reload
 * restores it at once and resumes the stream after its last event id instead of replaying
 * everything. Without a snapshot the stream is joined from its first event, which builds the
 * same view.
 */

import { readJson, remove, writeJson } from "../../lib/storage";
import type { RunView } from "./stream-reducer";

const PREFIX = "warren.run.";
const VERSION = 1;

interface Snapshot {
  version: number;
  view: RunView;
}

export function loadSnapshot(threadId: string): RunView | null {
  const snapshot = readJson("session", PREFIX + threadId) as Snapshot | null;
  if (snapshot?.version !== VERSION) return null;
  const view = snapshot.view;
  return typeof view.runId === "string" && typeof view.lastEventId === "string" ? view : null;
}

export function saveSnapshot(threadId: string, view: RunView): void {
  if (!writeJson("session", PREFIX + threadId, { version: VERSION, view } satisfies Snapshot)) {
    remove("session", PREFIX + threadId); // too big for the quota: rejoin from the start instead
  }
}

export function clearSnapshot(threadId: string): void {
  remove("session", PREFIX + threadId);
}
