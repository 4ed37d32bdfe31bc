import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api";
import type { SkillInstall } from "../../api/types";
import { keys } from "../../lib/query-client";

export function useSkills() {
  return useQuery({ queryKey: keys.skills, queryFn: ({ signal }) => api.skills.list(signal) });
}

export function useInstallSkill() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: SkillInstall) => api.skills.install(body),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.skills }),
  });
}

export function useRemoveSkill() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => api.skills.remove(name),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.skills }),
  });
}
