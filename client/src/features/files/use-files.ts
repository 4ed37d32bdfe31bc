import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api";
import { keys } from "../../lib/query-client";

export function useFileList(threadId: string, path: string) {
  return useQuery({
    queryKey: keys.files(threadId, path),
    queryFn: ({ signal }) => api.files.list(threadId, path, signal),
    placeholderData: (previous) => previous,
  });
}

export function useUpload(threadId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ files, directory }: { files: File[]; directory: string }) =>
      api.files.upload(threadId, files, directory),
    onSettled: () => queryClient.invalidateQueries({ queryKey: keys.filesOf(threadId) }),
  });
}

/** Save a sandbox file: fetched with the auth header, then handed to the browser as a Blob. */
export async function downloadFile(threadId: string, path: string): Promise<void> {
  const { blob, filename } = await api.files.download(threadId, path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function parentPath(path: string): string {
  const parts = path.split("/").filter(Boolean);
  parts.pop();
  return `/${parts.join("/")}`;
}
