import { describe, expect, it, vi } from "vitest";
import { ApiClient, type LockRunner } from "./client";
import { ApiError } from "./errors";
import { memoryTokenStore, type StoredTokens, type TokenStore } from "./token-store";

const NOW = 1_000_000;
const stale: StoredTokens = { accessToken: "access-1", refreshToken: "refresh-1", expiresAt: NOW + 600_000 };

function urlOf(input: RequestInfo | URL): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** A fake Warren: access tokens `access-N` are valid from `valid` on; refresh rotates strictly. */
function fakeServer() {
  const state = { valid: "access-2", refreshCalls: 0, currentRefresh: "refresh-1", revoked: false };
  const seen: { url: string; auth: string | null; body: string | null }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = urlOf(input);
    const headers = new Headers(init?.headers);
    seen.push({ url, auth: headers.get("Authorization"), body: typeof init?.body === "string" ? init.body : null });
    await Promise.resolve();
    if (url === "/api/auth/refresh") {
      state.refreshCalls += 1;
      const { refresh_token } = JSON.parse(typeof init?.body === "string" ? init.body : "{}") as {
        refresh_token: string;
      };
      if (state.revoked || refresh_token !== state.currentRefresh) {
        state.revoked = true; // reuse of a rotated token revokes the family
        return json(401, { error: "invalid_refresh_token", detail: "the session has ended" });
      }
      const n = state.refreshCalls + 1;
      state.currentRefresh = `refresh-${n}`;
      state.valid = `access-${n}`;
      return json(200, {
        access_token: `access-${n}`,
        refresh_token: `refresh-${n}`,
        token_type: "bearer",
        expires_in: 900,
      });
    }
    if (headers.get("Authorization") !== `Bearer ${state.valid}`) {
      return json(401, { error: "token_expired", detail: "the access token has expired" });
    }
    return json(200, { ok: true, url });
  });
  return { fetch, state, seen };
}

/** A Web Locks stand-in shared by several clients ("tabs"): one holder at a time, FIFO. */
function sharedLocks(): LockRunner {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
      const run = tail.then(callback, callback);
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

function client(
  server: ReturnType<typeof fakeServer>,
  tokens: TokenStore,
  locks: LockRunner | null = null,
  onSignedOut = vi.fn(),
) {
  return new ApiClient({ tokens, fetch: server.fetch, locks, onSignedOut, now: () => NOW });
}

describe("ApiClient", () => {
  it("sends the bearer token in a header, never in the URL", async () => {
    const server = fakeServer();
    const api = client(server, memoryTokenStore({ ...stale, accessToken: "access-2" }));
    await api.json("GET", "/api/threads", { query: { q: "x", cursor: null } });
    expect(server.seen[0]).toMatchObject({ url: "/api/threads?q=x", auth: "Bearer access-2" });
    expect(server.seen[0]?.url).not.toContain("access");
  });

  it("refreshes once for many concurrent 401s, then retries each request once", async () => {
    const server = fakeServer();
    const tokens = memoryTokenStore(stale);
    const api = client(server, tokens, sharedLocks());
    const results = await Promise.all(["/a", "/b", "/c", "/d"].map((path) => api.json<{ url: string }>("GET", path)));
    expect(results.map((r) => r.url)).toEqual(["/a", "/b", "/c", "/d"]);
    expect(server.state.refreshCalls).toBe(1);
    expect(tokens.read()).toEqual({ accessToken: "access-2", refreshToken: "refresh-2", expiresAt: NOW + 900_000 });
    // 4 failures + 1 refresh + 4 retries
    expect(server.fetch).toHaveBeenCalledTimes(9);
  });

  it("refreshes once across tabs sharing storage and a lock, without reusing a rotated token", async () => {
    const server = fakeServer();
    const tokens = memoryTokenStore(stale); // localStorage is shared by the tabs
    const locks = sharedLocks();
    const tabA = client(server, tokens, locks);
    const tabB = client(server, tokens, locks);
    const [a, b] = await Promise.all([
      tabA.json<{ url: string }>("GET", "/a"),
      tabB.json<{ url: string }>("GET", "/b"),
    ]);
    expect([a.url, b.url]).toEqual(["/a", "/b"]);
    expect(server.state.refreshCalls).toBe(1);
    expect(server.state.revoked).toBe(false);
  });

  it("signs out when the refresh is rejected, and throws a typed 401", async () => {
    const server = fakeServer();
    server.state.currentRefresh = "something-else";
    const tokens = memoryTokenStore(stale);
    const onSignedOut = vi.fn();
    const api = client(server, tokens, null, onSignedOut);
    const results = await Promise.allSettled([api.json("GET", "/a"), api.json("GET", "/b")]);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      expect((result as PromiseRejectedResult).reason).toMatchObject({ status: 401 });
    }
    expect(server.state.refreshCalls).toBe(1);
    expect(onSignedOut).toHaveBeenCalledTimes(1);
    expect(tokens.read()).toBeNull();
  });

  it("keeps the session when the refresh fails for a transient reason", async () => {
    const tokens = memoryTokenStore(stale);
    const onSignedOut = vi.fn();
    const fetch = vi.fn(async (input: RequestInfo | URL) =>
      urlOf(input) === "/api/auth/refresh"
        ? json(503, { error: "unavailable", detail: "starting" })
        : json(401, { error: "token_expired", detail: "expired" }),
    );
    const api = new ApiClient({ tokens, fetch, locks: null, onSignedOut, now: () => NOW });
    await expect(api.json("GET", "/a")).rejects.toMatchObject({ status: 503, code: "unavailable" });
    expect(onSignedOut).not.toHaveBeenCalled();
    expect(tokens.read()).toEqual(stale);
  });

  it("refreshes before sending when the access token is about to expire", async () => {
    const server = fakeServer();
    const tokens = memoryTokenStore({ ...stale, expiresAt: NOW + 5_000 });
    const api = client(server, tokens);
    await api.json("GET", "/a");
    expect(server.seen.map((s) => s.url)).toEqual(["/api/auth/refresh", "/a"]);
  });

  it("parses error bodies into ApiError", async () => {
    const tokens = memoryTokenStore({ ...stale, accessToken: "x" });
    const fetch = vi.fn(async () =>
      json(409, { error: "thread_busy", detail: "this thread already has an active run" }),
    );
    const api = new ApiClient({ tokens, fetch, locks: null, now: () => NOW });
    const error = await api.json("POST", "/api/threads/t/runs/stream", { body: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 409, code: "thread_busy", detail: "this thread already has an active run" });
  });

  it("reports Retry-After, non-JSON errors and network failures", async () => {
    const tokens = memoryTokenStore({ ...stale, accessToken: "x" });
    const responses = [
      json(429, { error: "rate_limited", detail: "slow down" }, { "Retry-After": "7" }),
      new Response("<html>Bad gateway</html>", { status: 502 }),
    ];
    const fetch = vi.fn(async () => {
      const next = responses.shift();
      if (!next) throw new TypeError("Failed to fetch");
      return next;
    });
    const api = new ApiClient({ tokens, fetch, locks: null, now: () => NOW });
    await expect(api.json("GET", "/a")).rejects.toMatchObject({ status: 429, retryAfter: 7 });
    await expect(api.json("GET", "/a")).rejects.toMatchObject({ status: 502, code: "http_502" });
    await expect(api.json("GET", "/a")).rejects.toMatchObject({ status: 0, code: "network_error" });
  });

  it("refuses to call a protected endpoint without a session", async () => {
    const fetch = vi.fn();
    const api = new ApiClient({ tokens: memoryTokenStore(), fetch, locks: null });
    await expect(api.json("GET", "/api/auth/me")).rejects.toMatchObject({ status: 401 });
    expect(fetch).not.toHaveBeenCalled();
  });
});
