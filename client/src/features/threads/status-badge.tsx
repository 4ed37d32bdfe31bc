import type { ThreadStatus } from "../../api/types";
import { cn } from "../../lib/cn";

const styles: Record<Exclude<ThreadStatus, "idle">, { label: string; className: string; dot: string }> = {
  busy: {
    label: "Working",
    className:
      "bg-accent-50 text-accent-700 ring-accent-200 dark:bg-accent-500/10 dark:text-accent-300 dark:ring-accent-500/30",
    dot: "bg-accent-500 animate-pulse",
  },
  interrupted: {
    label: "Needs approval",
    className:
      "bg-amber-50 text-amber-800 ring-amber-200 dark:bg-amber-500/10 dark:text-amber-300 dark:ring-amber-500/30",
    dot: "bg-amber-500",
  },
  error: {
    label: "Error",
    className: "bg-red-50 text-red-700 ring-red-200 dark:bg-red-500/10 dark:text-red-300 dark:ring-red-500/30",
    dot: "bg-red-500",
  },
};

export function StatusBadge({ status, className }: { status: ThreadStatus; className?: string }) {
  if (status === "idle") return null;
  const style = styles[status];
  return (
    <span
      className={cn(
        "inline-flex shrink-0 items-center gap-1 rounded-full px-1.5 py-px text-[11px] leading-4 font-medium ring-1 ring-inset",
        style.className,
        className,
      )}
    >
      <span className={cn("size-1.5 rounded-full", style.dot)} aria-hidden />
      {style.label}
    </span>
  );
}
