/**
 * Composer drafts, one per thread (and one for a new conversation), kept in localStorage:
 * they survive reloads, thread switches and an expired session. A small store, so that code
 * outside the composer (a failed send) can put text back into it.
 */

import { useCallback, useSyncExternalStore } from "react";
import { readText, remove, removePrefix, writeText } from "../../lib/storage";

const PREFIX = "warren.draft.";
export const NEW_THREAD_DRAFT = "new";

const listeners = new Set<() => void>();
const cache = new Map<string, string>();

function notify(): void {
  for (const listener of listeners) listener();
}

export function loadDraft(key: string): string {
  let text = cache.get(key);
  if (text === undefined) {
    text = readText("local", PREFIX + key) ?? "";
    cache.set(key, text);
  }
  return text;
}

export function saveDraft(key: string, text: string): void {
  cache.set(key, text);
  if (text.trim()) writeText("local", PREFIX + key, text);
  else remove("local", PREFIX + key);
  notify();
}

export function clearDraft(key: string): void {
  saveDraft(key, "");
}

/** On an explicit sign-out (shared computers): forget every draft. */
export function clearAllDrafts(): void {
  cache.clear();
  removePrefix("local", PREFIX);
  notify();
}

/** Drop the in-memory copies (another tab may have cleared localStorage). */
export function forgetCachedDrafts(): void {
  cache.clear();
  notify();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The draft for `key` and a setter that persists it. */
export function useDraft(key: string): [string, (text: string) => void] {
  const text = useSyncExternalStore(
    subscribe,
    () => loadDraft(key),
    () => "",
  );
  const set = useCallback((next: string) => saveDraft(key, next), [key]);
  return [text, set];
}
