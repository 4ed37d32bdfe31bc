/** localStorage / sessionStorage that never throw (private mode, quota, disabled storage). */

function area(kind: "local" | "session"): Storage | null {
  try {
    return kind === "local" ? window.localStorage : window.sessionStorage;
  } catch {
    return null;
  }
}

export function readJson(kind: "local" | "session", key: string): unknown {
  try {
    const raw = area(kind)?.getItem(key);
    return raw ? (JSON.parse(raw) as unknown) : null;
  } catch {
    return null;
  }
}

/** Returns whether the value was stored. */
export function writeJson(kind: "local" | "session", key: string, value: unknown): boolean {
  try {
    area(kind)?.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

export function readText(kind: "local" | "session", key: string): string | null {
  try {
    return area(kind)?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

export function writeText(kind: "local" | "session", key: string, value: string): void {
  try {
    area(kind)?.setItem(key, value);
  } catch {
    // quota or disabled: nothing to do
  }
}

export function remove(kind: "local" | "session", key: string): void {
  try {
    area(kind)?.removeItem(key);
  } catch {
    // disabled storage
  }
}

/** Remove every key starting with `prefix`. */
export function removePrefix(kind: "local" | "session", prefix: string): void {
  const store = area(kind);
  if (!store) return;
  try {
    const keys: string[] = [];
    for (let i = 0; i < store.length; i++) {
      const key = store.key(i);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    for (const key of keys) store.removeItem(key);
  } catch {
    // disabled storage
  }
}
