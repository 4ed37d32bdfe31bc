/** Every Warren endpoint the client uses, typed. Built on `ApiClient` (bearer, refresh, errors). */

import type { ApiClient } from "./client";
import { ApiError } from "./errors";
import type {
  ApiKeyCreate,
  ApiKeyCreated,
  ApiKeyList,
  AuthConfig,
  Credentials,
  FileList,
  RegisterResponse,
  RunCreate,
  RunList,
  RunPublic,
  SkillInstall,
  SkillList,
  SkillPublic,
  ThreadCreate,
  ThreadList,
  ThreadListQuery,
  ThreadPublic,
  ThreadState,
  ThreadUpdate,
  TokenResponse,
  UploadResult,
  UserPublic,
} from "./types";

const seg = encodeURIComponent;
const SSE_HEADERS = { Accept: "text/event-stream" };

export interface Download {
  blob: Blob;
  filename: string;
}

/** The file name from `Content-Disposition` (RFC 5987 `filename*` first), else `fallback`. */
export function dispositionFilename(header: string | null, fallback: string): string {
  if (header) {
    const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
    if (star?.[1]) {
      try {
        return decodeURIComponent(star[1].trim());
      } catch {
        // fall through to the plain form
      }
    }
    const plain = /filename\s*=\s*"?([^";]+)"?/.exec(header);
    if (plain?.[1]) return plain[1].trim();
  }
  return fallback;
}

export function createWarrenApi(client: ApiClient) {
  const auth = {
    /** `registration_open`; a server without the endpoint counts as open. */
    async config(): Promise<AuthConfig> {
      try {
        return await client.json<AuthConfig>("GET", "/api/auth/config", { auth: false });
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return { registration_open: true };
        throw error;
      }
    },
    async register(credentials: Credentials): Promise<RegisterResponse> {
      const response = await client.json<RegisterResponse>("POST", "/api/auth/register", {
        body: credentials,
        auth: false,
      });
      client.signIn(response);
      return response;
    },
    async login(credentials: Credentials): Promise<TokenResponse> {
      const response = await client.json<TokenResponse>("POST", "/api/auth/login", {
        body: credentials,
        auth: false,
      });
      client.signIn(response);
      return response;
    },
    /** End the session on the server (best effort) and forget it here. */
    async logout(): Promise<void> {
      const tokens = client.tokens.read();
      try {
        if (tokens) {
          await client.json<undefined>("POST", "/api/auth/logout", {
            body: { refresh_token: tokens.refreshToken },
            auth: false,
          });
        }
      } finally {
        client.signOut();
      }
    },
    me: (signal?: AbortSignal) => client.json<UserPublic>("GET", "/api/auth/me", { signal }),
    listApiKeys: () => client.json<ApiKeyList>("GET", "/api/auth/api-keys"),
    createApiKey: (body: ApiKeyCreate) => client.json<ApiKeyCreated>("POST", "/api/auth/api-keys", { body }),
    revokeApiKey: (id: string) => client.json<undefined>("DELETE", `/api/auth/api-keys/${seg(id)}`),
  };

  const threads = {
    list: (query: ThreadListQuery = {}, signal?: AbortSignal) =>
      client.json<ThreadList>("GET", "/api/threads", { query: { ...query }, signal }),
    create: (body: ThreadCreate = {}) => client.json<ThreadPublic>("POST", "/api/threads", { body }),
    get: (id: string, signal?: AbortSignal) => client.json<ThreadPublic>("GET", `/api/threads/${seg(id)}`, { signal }),
    update: (id: string, body: ThreadUpdate) => client.json<ThreadPublic>("PATCH", `/api/threads/${seg(id)}`, { body }),
    remove: (id: string) => client.json<undefined>("DELETE", `/api/threads/${seg(id)}`),
    state: (id: string, signal?: AbortSignal) =>
      client.json<ThreadState>("GET", `/api/threads/${seg(id)}/state`, { signal }),
  };

  const runs = {
    list: (threadId: string, limit = 20, signal?: AbortSignal) =>
      client.json<RunList>("GET", `/api/threads/${seg(threadId)}/runs`, {
        query: { limit },
        signal,
      }),
    get: (threadId: string, runId: string, signal?: AbortSignal) =>
      client.json<RunPublic>("GET", `/api/threads/${seg(threadId)}/runs/${seg(runId)}`, {
        signal,
      }),
    cancel: (threadId: string, runId: string) =>
      client.json<undefined>("POST", `/api/threads/${seg(threadId)}/runs/${seg(runId)}/cancel`),
    /** Start a run and stream its events (the response body is `text/event-stream`). */
    startStream: (threadId: string, body: RunCreate, signal?: AbortSignal) =>
      client.send("POST", `/api/threads/${seg(threadId)}/runs/stream`, {
        body,
        signal,
        headers: SSE_HEADERS,
      }),
    /** Join a run's stream, or resume it after `lastEventId` (sent as the `Last-Event-ID` header). */
    joinStream: (threadId: string, runId: string, lastEventId: string | null, signal?: AbortSignal) =>
      client.send("GET", `/api/threads/${seg(threadId)}/runs/${seg(runId)}/stream`, {
        signal,
        headers: lastEventId ? { ...SSE_HEADERS, "Last-Event-ID": lastEventId } : SSE_HEADERS,
      }),
  };

  const files = {
    list: (threadId: string, path = "/", signal?: AbortSignal) =>
      client.json<FileList>("GET", `/api/threads/${seg(threadId)}/files`, {
        query: { path },
        signal,
      }),
    upload: (threadId: string, picked: readonly File[], directory = "/") => {
      const form = new FormData();
      for (const file of picked) form.append("file", file, file.name);
      form.append("path", directory);
      return client.json<UploadResult>("POST", `/api/threads/${seg(threadId)}/files`, {
        body: form,
      });
    },
    /** Download with the auth header (never a token in the URL), as a Blob. */
    async download(threadId: string, path: string): Promise<Download> {
      const response = await client.send("GET", `/api/threads/${seg(threadId)}/files/content`, {
        query: { path },
        headers: { Accept: "*/*" },
      });
      const fallback = path.split("/").filter(Boolean).pop() ?? "download";
      const filename = dispositionFilename(response.headers.get("Content-Disposition"), fallback);
      return { blob: await response.blob(), filename };
    },
  };

  const skills = {
    list: (signal?: AbortSignal) => client.json<SkillList>("GET", "/api/skills", { signal }),
    /** The server fetches the zip from `url` (checked against `sha256` when given). */
    install: (body: SkillInstall) => client.json<SkillPublic>("POST", "/api/skills", { body }),
    remove: (name: string) => client.json<undefined>("DELETE", `/api/skills/${seg(name)}`),
  };

  return { auth, threads, runs, files, skills };
}

export type WarrenApi = ReturnType<typeof createWarrenApi>;
