/**
 * The HTTP core every API call goes through: the bearer header (tokens never go in URLs),
 * typed errors, and one refresh attempt on a 401.
 *
 * Refresh tokens rotate strictly and reusing a rotated one revokes the whole session, so a
 * refresh must happen once even when many requests (in many tabs) see a 401 together:
 * single-flight within the tab, and the Web Locks API across tabs, re-reading the stored
 * tokens once the lock is held (another tab may have refreshed meanwhile).
 */

import { ApiError } from "./errors";
import type { StoredTokens, TokenStore } from "./token-store";
import type { TokenResponse } from "./types";

const REFRESH_TIMEOUT_MS = 15_000;

export { ApiError } from "./errors";

type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  /** A JSON body (serialised here) or a `FormData` (multipart, sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send the bearer token and refresh on 401 (default); `false` for login and the like. */
  auth?: boolean;
}

export interface LockRunner {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface ApiClientOptions {
  tokens: TokenStore;
  baseUrl?: string;
  fetch?: typeof fetch;
  /** `navigator.locks` where available; `null` to coordinate within this tab only. */
  locks?: LockRunner | null;
  /** Called once the session is gone (refresh rejected): the UI returns to the login screen. */
  onSignedOut?: () => void;
  now?: () => number;
}

export const REFRESH_LOCK = "warren.auth.refresh";
/** Refresh this long before the access token expires, to skip a doomed request. */
const EXPIRY_SKEW_MS = 30_000;

export function tokensFrom(response: TokenResponse, now: number): StoredTokens {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token,
    expiresAt: now + response.expires_in * 1000,
  };
}

export function browserLocks(): LockRunner | null {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks || typeof locks.request !== "function") return null;
  return { request: (name, callback) => locks.request(name, callback) };
}

export class ApiClient {
  readonly tokens: TokenStore;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly locks: LockRunner | null;
  private readonly now: () => number;
  private onSignedOut: (() => void) | undefined;
  private refreshing: Promise<StoredTokens | null> | null = null;

  constructor(options: ApiClientOptions) {
    this.tokens = options.tokens;
    this.baseUrl = options.baseUrl ?? "";
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.locks = options.locks === undefined ? browserLocks() : options.locks;
    this.onSignedOut = options.onSignedOut;
    this.now = options.now ?? (() => Date.now());
  }

  setSignedOutHandler(handler: (() => void) | undefined): void {
    this.onSignedOut = handler;
  }

  /** Store the tokens from login, registration or refresh. */
  signIn(response: TokenResponse): void {
    this.tokens.write(tokensFrom(response, this.now()));
  }

  /** Forget the session locally (the caller tells the server, if it can). */
  signOut(): void {
    this.tokens.clear();
    this.onSignedOut?.();
  }

  /** A JSON call; resolves with the parsed body (`undefined` for 204). */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * The raw response of a successful call (streams, downloads). Errors are thrown as
   * `ApiError` before any body is read.
   */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const auth = options.auth ?? true;
    let tokens = auth ? await this.currentTokens() : null;
    if (auth && !tokens) throw new ApiError(401, "not_authenticated", "You are signed out.");
    let response = await this.attempt(method, path, options, tokens);
    if (response.status === 401 && tokens) {
      await response.body?.cancel().catch(() => undefined);
      tokens = await this.refresh(tokens.accessToken);
      if (!tokens) throw new ApiError(401, "session_expired", "Your session has ended; sign in again.");
      response = await this.attempt(method, path, options, tokens);
      if (response.status === 401) {
        const error = await ApiError.fromResponse(response);
        this.signOut();
        throw error;
      }
    }
    if (!response.ok) throw await ApiError.fromResponse(response);
    return response;
  }

  /**
   * Refresh the session once for everyone who saw `staleAccessToken` fail. Resolves with the
   * new tokens, or `null` once the session is gone (then the client is signed out). A network
   * failure or a 5xx rejects, and the session is kept.
   */
  refresh(staleAccessToken: string): Promise<StoredTokens | null> {
    if (!this.refreshing) {
      const work = () => this.refreshHoldingLock(staleAccessToken);
      const flight = this.locks ? this.locks.request(REFRESH_LOCK, work) : work();
      this.refreshing = flight.finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refreshHoldingLock(staleAccessToken: string): Promise<StoredTokens | null> {
    // Re-read under the lock: another tab may have rotated the pair while we waited.
    const current = this.tokens.read();
    if (!current) return null;
    if (current.accessToken !== staleAccessToken && !this.expiring(current)) return current;
    let response: Response;
    try {
      response = await this.fetchImpl(this.url("/api/auth/refresh"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: current.refreshToken }),
        credentials: "same-origin",
        signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS), // every tab waits on this one, under the lock
      });
    } catch (cause) {
      throw ApiError.network(cause);
    }
    if (response.ok) {
      const fresh = tokensFrom((await response.json()) as TokenResponse, this.now());
      this.tokens.write(fresh);
      return fresh;
    }
    if (response.status >= 500 || response.status === 429) throw await ApiError.fromResponse(response);
    // Rejected (expired, revoked or reused): the session is over, unless another tab
    // without the lock managed to rotate it meanwhile.
    const after = this.tokens.read();
    if (after && after.refreshToken !== current.refreshToken) return after;
    this.signOut();
    return null;
  }

  private expiring(tokens: StoredTokens): boolean {
    return tokens.expiresAt - EXPIRY_SKEW_MS <= this.now();
  }

  /** The stored tokens, refreshed first when the access token is about to expire. */
  private async currentTokens(): Promise<StoredTokens | null> {
    const tokens = this.tokens.read();
    if (!tokens || !this.expiring(tokens)) return tokens;
    try {
      return await this.refresh(tokens.accessToken);
    } catch {
      return tokens; // transient trouble: try the request anyway
    }
  }

  private async attempt(
    method: string,
    path: string,
    options: RequestOptions,
    tokens: StoredTokens | null,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    let body: BodyInit | undefined;
    if (options.body instanceof FormData) {
      body = options.body;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["Content-Type"] = "application/json";
    }
    if (tokens) headers.Authorization = `Bearer ${tokens.accessToken}`;
    try {
      return await this.fetchImpl(this.url(path, options.query), {
        method,
        headers,
        body: body ?? null,
        signal: options.signal ?? null,
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
      throw ApiError.network(cause);
    }
  }

  private url(path: string, query?: Query): string {
    let url = this.baseUrl + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
      }
      const text = params.toString();
      if (text) url += `?${text}`;
    }
    return url;
  }
}
