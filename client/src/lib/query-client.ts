/** TanStack Query defaults: retry only what may succeed later, never a 4xx. */

import { QueryClient } from "@tanstack/react-query";
import { ApiError } from "../api/errors";

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        retry: (failures, error) => failures < 2 && (!(error instanceof ApiError) || error.transient),
        refetchOnWindowFocus: true,
      },
      mutations: { retry: false },
    },
  });
}

/** Query keys in one place, so invalidation matches what components read. */
export const keys = {
  me: ["me"] as const,
  authConfig: ["auth-config"] as const,
  threads: ["threads"] as const,
  threadList: (q: string) => ["threads", "list", q] as const,
  thread: (id: string) => ["threads", "one", id] as const,
  state: (id: string) => ["thread-state", id] as const,
  runs: (id: string) => ["runs", id] as const,
  files: (id: string, path: string) => ["files", id, path] as const,
  filesOf: (id: string) => ["files", id] as const,
  apiKeys: ["api-keys"] as const,
  skills: ["skills"] as const,
};
