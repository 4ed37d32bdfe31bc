import { Ban, Bot, ChevronRight, CircleCheck, CircleX, Hourglass, Wrench } from "lucide-react";
import { useId, useState, type ReactNode } from "react";
import { Spinner } from "../../components/spinner";
import { cn } from "../../lib/cn";
import { formatArgs, type ToolCallView, type ToolState } from "./stream-reducer";
import { toolLabel, toolSummary } from "./tool-presentation";

const RESULT_PREVIEW_CHARS = 4000;

const stateInfo: Record<ToolState, { label: string; icon: ReactNode; tone: string }> = {
  streaming: { label: "Preparing", icon: <Spinner className="size-3.5" />, tone: "text-zinc-500" },
  running: { label: "Running", icon: <Spinner className="size-3.5" />, tone: "text-accent-600 dark:text-accent-400" },
  success: {
    label: "Done",
    icon: <CircleCheck className="size-3.5" />,
    tone: "text-emerald-600 dark:text-emerald-400",
  },
  error: { label: "Failed", icon: <CircleX className="size-3.5" />, tone: "text-red-600 dark:text-red-400" },
  stopped: { label: "Stopped", icon: <Ban className="size-3.5" />, tone: "text-zinc-500" },
  waiting: {
    label: "Needs approval",
    icon: <Hourglass className="size-3.5" />,
    tone: "text-amber-600 dark:text-amber-400",
  },
};

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="flex flex-col gap-1">
      <span className="text-[11px] font-medium tracking-wide text-zinc-500 uppercase">{title}</span>
      {children}
    </div>
  );
}

const preClass =
  "scrollbar-thin max-h-72 overflow-auto rounded-md bg-zinc-50 p-2.5 font-mono text-xs leading-relaxed whitespace-pre-wrap break-words text-zinc-800 dark:bg-zinc-950 dark:text-zinc-200";

function Result({ text, failed }: { text: string; failed: boolean }) {
  const [all, setAll] = useState(false);
  const long = text.length > RESULT_PREVIEW_CHARS;
  return (
    <>
      <pre className={cn(preClass, failed && "text-red-700 dark:text-red-300")}>
        {long && !all ? `${text.slice(0, RESULT_PREVIEW_CHARS)}…` : text || "(empty)"}
      </pre>
      {long && (
        <button
          type="button"
          onClick={() => setAll(!all)}
          className="self-start text-xs font-medium text-accent-600 hover:underline dark:text-accent-400"
        >
          {all ? "Show less" : `Show all (${text.length.toLocaleString()} characters)`}
        </button>
      )}
    </>
  );
}

/**
 * One tool call: name, arguments as they stream, result, state. A `task` call is a subagent:
 * its own activity is nested inside (`children`), open while it works.
 */
export function ToolCallCard({ tool, children }: { tool: ToolCallView; children?: ReactNode }) {
  const isSubagent = tool.name === "task" || tool.subagent !== null;
  const [open, setOpen] = useState<boolean | null>(null);
  const expanded = open ?? (isSubagent && (tool.state === "running" || tool.state === "streaming"));
  const panelId = useId();
  const info = stateInfo[tool.state];
  const summary = isSubagent && tool.subagent?.description ? tool.subagent.description : toolSummary(tool);
  const args = formatArgs(tool);
  const title = isSubagent
    ? (tool.subagent?.type ?? (typeof tool.args?.subagent_type === "string" ? tool.args.subagent_type : "subagent"))
    : toolLabel(tool.name);

  return (
    <div
      className={cn(
        "min-w-0 rounded-xl border bg-white text-sm dark:bg-zinc-900/60",
        tool.state === "error" ? "border-red-200 dark:border-red-900/50" : "border-zinc-200 dark:border-zinc-800",
      )}
    >
      <button
        type="button"
        aria-expanded={expanded}
        aria-controls={panelId}
        onClick={() => setOpen(!expanded)}
        className="flex w-full min-w-0 items-center gap-2 rounded-xl px-3 py-2 text-left hover:bg-zinc-50 dark:hover:bg-zinc-800/50"
      >
        <ChevronRight
          className={cn("size-4 shrink-0 text-zinc-400 transition-transform", expanded && "rotate-90")}
          aria-hidden
        />
        {isSubagent ? (
          <Bot className="size-4 shrink-0 text-accent-500" aria-hidden />
        ) : (
          <Wrench className="size-4 shrink-0 text-zinc-400" aria-hidden />
        )}
        <span className="shrink-0 font-medium">{title}</span>
        {!isSubagent && tool.name !== title && (
          <span className="hidden shrink-0 font-mono text-xs text-zinc-400 sm:inline">{tool.name}</span>
        )}
        <span className="min-w-0 flex-1 truncate text-zinc-500 dark:text-zinc-400">{summary}</span>
        <span className={cn("flex shrink-0 items-center gap-1 text-xs font-medium", info.tone)}>
          {info.icon}
          <span className="hidden sm:inline">{info.label}</span>
          <span className="sr-only sm:hidden">{info.label}</span>
        </span>
      </button>
      {expanded && (
        <div id={panelId} className="flex flex-col gap-3 border-t border-zinc-100 px-3 py-3 dark:border-zinc-800">
          {args && (
            <Section title={isSubagent ? "Instructions" : "Arguments"}>
              <pre className={preClass}>{args}</pre>
            </Section>
          )}
          {isSubagent && children && (
            <Section title="Activity">
              <div className="flex flex-col gap-2 border-l-2 border-accent-200 pl-3 dark:border-accent-500/30">
                {children}
              </div>
            </Section>
          )}
          {tool.result !== null && (
            <Section title={tool.state === "error" ? "Error" : isSubagent ? "Report" : "Result"}>
              <Result text={tool.result} failed={tool.state === "error"} />
            </Section>
          )}
        </div>
      )}
    </div>
  );
}
