/** Where the session's tokens live: localStorage, shared by every tab of the app. */

export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires, in epoch milliseconds. */
  expiresAt: number;
}

export interface TokenStore {
  read(): StoredTokens | null;
  write(tokens: StoredTokens): void;
  clear(): void;
  /** Called after every change, from this tab or another one. Returns an unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export const TOKENS_KEY = "warren.auth";

function parse(raw: string | null): StoredTokens | null {
  if (!raw) return null;
  try {
    const value = JSON.parse(raw) as Partial<StoredTokens> | null;
    if (
      value &&
      typeof value.accessToken === "string" &&
      typeof value.refreshToken === "string" &&
      typeof value.expiresAt === "number"
    ) {
      return {
        accessToken: value.accessToken,
        refreshToken: value.refreshToken,
        expiresAt: value.expiresAt,
      };
    }
  } catch {
    // a corrupt entry counts as signed out
  }
  return null;
}

/** Tokens in `storage` (localStorage by default); other tabs' changes arrive as `storage` events. */
export function storageTokenStore(storage: Storage = localStorage, key = TOKENS_KEY): TokenStore {
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  if (typeof window !== "undefined") {
    window.addEventListener("storage", (event) => {
      if (event.key === key || event.key === null) notify();
    });
  }
  return {
    read: () => {
      try {
        return parse(storage.getItem(key));
      } catch {
        return null;
      }
    },
    write: (tokens) => {
      storage.setItem(key, JSON.stringify(tokens));
      notify();
    },
    clear: () => {
      storage.removeItem(key);
      notify();
    },
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** An in-memory store (tests, or a browser without storage). */
export function memoryTokenStore(initial: StoredTokens | null = null): TokenStore {
  let tokens = initial;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  return {
    read: () => tokens,
    write: (next) => {
      tokens = next;
      notify();
    },
    clear: () => {
      tokens = null;
      notify();
    },
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
