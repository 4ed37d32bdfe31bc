import type { ThreadPublic } from "../../api/types";

export function threadTitle(thread: Pick<ThreadPublic, "title">): string {
  return thread.title.trim() || "New conversation";
}
