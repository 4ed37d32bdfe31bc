import { Ban, CircleAlert } from "lucide-react";
import type { RunError } from "../../api/types";

/** How a run ended, when that is worth saying: stopped by the user, or failed. */
export function RunNotice({ status, error }: { status: string; error: RunError | null }) {
  if (status === "cancelled") {
    return (
      <p className="flex items-center gap-2 text-sm text-zinc-500 dark:text-zinc-400">
        <Ban className="size-4" aria-hidden /> Stopped. Warren did not finish this task.
      </p>
    );
  }
  if (status === "error" || error) {
    return (
      <div
        role="alert"
        className="flex gap-2 rounded-xl border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900/50 dark:bg-red-950/30 dark:text-red-200"
      >
        <CircleAlert className="mt-0.5 size-4 shrink-0" aria-hidden />
        <div>
          <p className="font-medium">This run failed</p>
          <p className="mt-0.5 text-red-700 dark:text-red-300">{error?.detail ?? "The agent stopped with an error."}</p>
          {error?.code && <p className="mt-1 font-mono text-xs text-red-600/80 dark:text-red-400/80">{error.code}</p>}
        </div>
      </div>
    );
  }
  return null;
}
