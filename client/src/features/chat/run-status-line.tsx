import { Box, Coins, WifiOff } from "lucide-react";
import type { RunUsage } from "../../api/types";
import { Spinner } from "../../components/spinner";
import { cn } from "../../lib/cn";
import { tokens } from "../../lib/format";
import type { Connection } from "./run-follower";
import type { RunView } from "./stream-reducer";

const sandboxText = {
  provisioning: "Starting the sandbox…",
  ready: "Sandbox ready",
  recreated: "Sandbox recreated: files from before may be gone",
  failed: "The sandbox failed to start",
};

export function UsageText({ usage, className }: { usage: RunUsage; className?: string }) {
  return (
    <span className={cn("inline-flex items-center gap-1", className)} title="Tokens used by this run">
      <Coins className="size-3.5" aria-hidden />
      {tokens(usage.input_tokens)} in · {tokens(usage.output_tokens)} out
    </span>
  );
}

/** One quiet line under the conversation: sandbox, connection, token usage. */
export function RunStatusLine({ view, connection }: { view: RunView; connection: Connection }) {
  const sandbox = view.sandbox;
  const reconnecting = connection === "reconnecting";
  const usage = view.usage && view.usage.input_tokens + view.usage.output_tokens > 0 ? view.usage : null;
  if (!sandbox && !reconnecting && !usage) return null;
  return (
    <div
      className="flex min-h-5 flex-wrap items-center gap-x-4 gap-y-1 px-1 text-xs text-zinc-500 dark:text-zinc-400"
      aria-live="polite"
    >
      {reconnecting && (
        <span className="inline-flex items-center gap-1 text-amber-600 dark:text-amber-400">
          <WifiOff className="size-3.5" aria-hidden /> Connection lost, reconnecting…
        </span>
      )}
      {sandbox && (
        <span
          className={cn(
            "inline-flex items-center gap-1",
            sandbox.status === "failed" && "text-red-600 dark:text-red-400",
            sandbox.status === "recreated" && "text-amber-600 dark:text-amber-400",
          )}
          title={sandbox.detail}
        >
          {sandbox.status === "provisioning" ? (
            <Spinner className="size-3.5" />
          ) : (
            <Box className="size-3.5" aria-hidden />
          )}
          {sandboxText[sandbox.status]}
        </span>
      )}
      {usage && <UsageText usage={usage} className="ml-auto" />}
    </div>
  );
}
