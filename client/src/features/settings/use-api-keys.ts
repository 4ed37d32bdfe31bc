import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api";
import type { ApiKeyCreate } from "../../api/types";
import { keys } from "../../lib/query-client";

export function useApiKeys() {
  return useQuery({ queryKey: keys.apiKeys, queryFn: () => api.auth.listApiKeys() });
}

export function useCreateApiKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: ApiKeyCreate) => api.auth.createApiKey(body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.auth.revokeApiKey(id),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}
