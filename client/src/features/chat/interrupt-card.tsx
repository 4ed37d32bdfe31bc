import { ShieldAlert } from "lucide-react";

interface ActionRequest {
  name?: unknown;
  args?: unknown;
  description?: unknown;
}

function requestsOf(value: unknown): ActionRequest[] {
  if (value && typeof value === "object" && "action_requests" in value) {
    const requests = value.action_requests;
    if (Array.isArray(requests)) return requests as ActionRequest[];
  }
  return [];
}

/**
 * A run paused for a human decision (human-in-the-loop). Shows what the agent wants to do.
 * Deciding from the web needs the server to accept `resume` decisions on a new run.
 */
export function InterruptCard({ value }: { value: unknown }) {
  const requests = requestsOf(value);
  return (
    <section
      aria-label="Waiting for approval"
      className="rounded-xl border border-amber-200 bg-amber-50/70 p-3 text-sm dark:border-amber-900/50 dark:bg-amber-950/30"
    >
      <div className="flex items-center gap-2 font-medium text-amber-900 dark:text-amber-200">
        <ShieldAlert className="size-4" aria-hidden />
        Warren is waiting for your approval
      </div>
      {requests.length > 0 && (
        <ul className="mt-2 flex flex-col gap-2">
          {requests.map((request, index) => (
            <li key={index} className="rounded-lg bg-white/80 p-2 dark:bg-zinc-900/70">
              <p className="font-mono text-xs font-semibold">
                {typeof request.name === "string" ? request.name : "action"}
              </p>
              {typeof request.description === "string" && (
                <p className="mt-1 text-zinc-600 dark:text-zinc-400">{request.description}</p>
              )}
              {request.args !== undefined && (
                <pre className="mt-1 overflow-x-auto font-mono text-xs whitespace-pre-wrap text-zinc-700 dark:text-zinc-300">
                  {JSON.stringify(request.args, null, 2)}
                </pre>
              )}
            </li>
          ))}
        </ul>
      )}
      <p className="mt-2 text-xs text-amber-800/80 dark:text-amber-300/80">
        Approving, editing or rejecting from the web client is not available on this server yet.
      </p>
    </section>
  );
}
