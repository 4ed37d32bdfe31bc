/** Server state of the thread list: TanStack Query reads and mutations. */

import { useInfiniteQuery, useMutation, useQuery, useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { api } from "../../api";
import type { ThreadList, ThreadPublic } from "../../api/types";
import { keys } from "../../lib/query-client";

const PAGE = 50;

function anyBusy(data: InfiniteData<ThreadList> | undefined): boolean {
  return data?.pages.some((page) => page.data.some((t) => t.status === "busy")) ?? false;
}

/** The caller's threads, newest activity first; polls while one of them is working. */
export function useThreadList(q: string) {
  return useInfiniteQuery({
    queryKey: keys.threadList(q),
    queryFn: ({ pageParam, signal }) => api.threads.list({ q: q || null, cursor: pageParam, limit: PAGE }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: (query) => (anyBusy(query.state.data) ? 4000 : 60_000),
    placeholderData: (previous) => previous,
  });
}

export function useThread(threadId: string) {
  return useQuery({
    queryKey: keys.thread(threadId),
    queryFn: ({ signal }) => api.threads.get(threadId, signal),
  });
}

export function useCreateThread() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (title?: string) => api.threads.create(title ? { title } : {}),
    onSuccess: (thread) => {
      queryClient.setQueryData(keys.thread(thread.id), thread);
      void queryClient.invalidateQueries({ queryKey: keys.threads });
    },
  });
}

function patchCachedThread(
  queryClient: ReturnType<typeof useQueryClient>,
  id: string,
  patch: (thread: ThreadPublic) => ThreadPublic | null,
) {
  queryClient.setQueriesData<InfiniteData<ThreadList>>({ queryKey: [...keys.threads, "list"] }, (data) =>
    data
      ? {
          ...data,
          pages: data.pages.map((page) => ({
            ...page,
            data: page.data.flatMap((t) =>
              t.id === id ? [patch(t)].filter((x): x is ThreadPublic => x !== null) : [t],
            ),
          })),
        }
      : data,
  );
}

export function useRenameThread() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ id, title }: { id: string; title: string }) => api.threads.update(id, { title }),
    onMutate: ({ id, title }) => patchCachedThread(queryClient, id, (t) => ({ ...t, title })),
    onSuccess: (thread) => queryClient.setQueryData(keys.thread(thread.id), thread),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.threads }),
  });
}

export function useDeleteThread() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.threads.remove(id),
    onSuccess: (_data, id) => {
      patchCachedThread(queryClient, id, () => null);
      queryClient.removeQueries({ queryKey: keys.thread(id) });
      queryClient.removeQueries({ queryKey: keys.state(id) });
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.threads }),
  });
}
