import { Bot, Check, MessageSquareReply, Pencil, ShieldAlert, Wrench, X } from "lucide-react";
import { useId, useState, type ReactNode } from "react";
import { errorMessage } from "../../api";
import type { Decision, DecisionType } from "../../api/types";
import { Button } from "../../components/button";
import { inputClass } from "../../components/styles";
import { useToast } from "../../components/toast-context";
import { cn } from "../../lib/cn";
import {
  allActions,
  buildResume,
  draftFor,
  parseArgs,
  type DecisionDraft,
  type PendingReview,
  type ReviewAction,
} from "./interrupts";
import { toolLabel } from "./tool-presentation";

const choices: Record<DecisionType, { label: string; hint: string; icon: ReactNode }> = {
  approve: { label: "Approve", hint: "Run it as shown", icon: <Check className="size-4" aria-hidden /> },
  edit: { label: "Edit", hint: "Change the arguments, then run it", icon: <Pencil className="size-4" aria-hidden /> },
  reject: { label: "Reject", hint: "Do not run it, and tell Warren why", icon: <X className="size-4" aria-hidden /> },
  respond: {
    label: "Reply",
    hint: "Do not run it; answer in its place",
    icon: <MessageSquareReply className="size-4" aria-hidden />,
  },
};

const preClass =
  "scrollbar-thin max-h-60 overflow-auto rounded-md bg-zinc-50 p-2.5 font-mono text-xs leading-relaxed whitespace-pre-wrap break-words text-zinc-800 dark:bg-zinc-950 dark:text-zinc-200";

const areaClass = cn(inputClass, "h-auto min-h-20 resize-y py-2 leading-relaxed");

/** The button that sends a lone action's composed decision. */
function submitLabel(draft: DecisionDraft | null): string {
  if (draft?.type === "edit") return "Run with these arguments";
  if (draft?.type === "reject") return "Reject";
  if (draft?.type === "respond") return "Send reply";
  return "Approve";
}

/** What is wrong with edited arguments while they are typed (`null`: fine, or not an edit). */
function editError(draft: DecisionDraft | null): string | null {
  if (draft?.type !== "edit") return null;
  const parsed = parseArgs(draft.argsText);
  return "error" in parsed ? parsed.error : null;
}

interface ActionProps {
  action: ReviewAction;
  /** The subagent that asks (its type), when it is not the main agent. */
  agent: string | null;
  draft: DecisionDraft | null;
  error: string | null;
  disabled: boolean;
  submitting: boolean;
  /** A lone action: Approve sends at once. */
  lone: boolean;
  onDraft: (draft: DecisionDraft | null) => void;
  onApproveNow: () => void;
}

/** One action under review: what it would do, the allowed decisions, and their inputs. */
function ActionReview({ action, agent, draft, error, disabled, submitting, lone, onDraft, onApproveNow }: ActionProps) {
  const fieldId = useId();
  const errorId = `${fieldId}-error`;
  const label = toolLabel(action.name);
  const shownError = editError(draft) ?? error;

  const choose = (type: DecisionType) => {
    if (lone && type === "approve") {
      onApproveNow();
      return;
    }
    if (draft?.type !== type) onDraft(draftFor(type, action));
    else if (!lone) onDraft(null); // among several, a second click takes the choice back
  };

  return (
    <li className="flex flex-col gap-2.5 rounded-lg border border-amber-200/70 bg-white p-3 dark:border-amber-900/40 dark:bg-zinc-900/70">
      <div className="flex min-w-0 items-center gap-2">
        <Wrench className="size-4 shrink-0 text-zinc-400" aria-hidden />
        <span className="shrink-0 font-medium">{label}</span>
        {label !== action.name && <span className="truncate font-mono text-xs text-zinc-400">{action.name}</span>}
        {agent && (
          <span className="ml-auto flex shrink-0 items-center gap-1 rounded-full bg-accent-50 px-2 py-0.5 text-xs text-accent-700 dark:bg-accent-500/10 dark:text-accent-300">
            <Bot className="size-3.5" aria-hidden /> asked by {agent}
          </span>
        )}
      </div>
      {action.description && (
        <p className="text-sm whitespace-pre-wrap text-zinc-600 dark:text-zinc-400">{action.description}</p>
      )}
      {draft?.type !== "edit" && <pre className={preClass}>{JSON.stringify(action.args, null, 2)}</pre>}
      <div role="group" aria-label={`Decision for ${label}`} className="flex flex-wrap gap-2">
        {action.allowed.map((type) => {
          const chosen = draft?.type === type;
          const sendsNow = lone && type === "approve";
          return (
            <Button
              key={type}
              size="sm"
              variant={chosen || (sendsNow && !draft) ? "primary" : "secondary"}
              aria-pressed={sendsNow ? undefined : chosen}
              disabled={disabled}
              busy={sendsNow && submitting && !draft}
              icon={choices[type].icon}
              title={choices[type].hint}
              onClick={() => choose(type)}
            >
              {choices[type].label}
            </Button>
          );
        })}
      </div>
      {draft?.type === "edit" && (
        <div className="flex flex-col gap-1.5">
          <label htmlFor={fieldId} className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
            Arguments for {label} (JSON)
          </label>
          <textarea
            id={fieldId}
            value={draft.argsText}
            onChange={(event) => onDraft({ type: "edit", argsText: event.target.value })}
            disabled={disabled}
            autoFocus
            spellCheck={false}
            rows={Math.min(14, Math.max(4, draft.argsText.split("\n").length + 1))}
            aria-invalid={shownError ? true : undefined}
            aria-describedby={shownError ? errorId : undefined}
            className={cn(areaClass, "font-mono text-xs", shownError && "border-red-500 focus:border-red-500")}
          />
        </div>
      )}
      {(draft?.type === "reject" || draft?.type === "respond") && (
        <div className="flex flex-col gap-1.5">
          <label htmlFor={fieldId} className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
            {draft.type === "reject" ? `Why not? (optional, Warren reads this)` : `Reply for ${label}`}
          </label>
          <textarea
            id={fieldId}
            value={draft.message}
            onChange={(event) => onDraft({ type: draft.type, message: event.target.value })}
            disabled={disabled}
            autoFocus
            rows={3}
            maxLength={10_000}
            placeholder={
              draft.type === "reject"
                ? "e.g. Don't touch that folder; use /workspace/tmp"
                : "What the tool should answer"
            }
            aria-invalid={shownError ? true : undefined}
            aria-describedby={shownError ? errorId : undefined}
            className={areaClass}
          />
        </div>
      )}
      {shownError && (
        <p id={errorId} role="alert" className="text-xs text-red-600 dark:text-red-400">
          {shownError}
        </p>
      )}
    </li>
  );
}

/** The subagent a pause inside one comes from: the type of the innermost `task` call. */
function agentName(ns: readonly string[], subagents: ReadonlyMap<string, string> | undefined): string | null {
  const call = ns[ns.length - 1];
  if (call === undefined) return null;
  return subagents?.get(call) ?? "a subagent";
}

interface InterruptCardProps {
  reviews: PendingReview[];
  /** Continue the run with these decisions; resolves once the server accepted them. */
  onSubmit: (decisions: Decision[]) => Promise<void>;
  /** Another run is going: deciding waits. */
  disabled?: boolean;
  /** Subagent types by `task` call id, to name the subagent a pause comes from. */
  subagents?: ReadonlyMap<string, string>;
}

/**
 * A run paused for a human decision (human in the loop): each action it wants to take, with
 * the decisions it allows (approve, edit the arguments, reject with a reason, reply in the
 * tool's place). Sending starts the continuation, which streams into the conversation.
 */
export function InterruptCard({ reviews, onSubmit, disabled, subagents }: InterruptCardProps) {
  const actions = allActions(reviews);
  // the agent path of each action, in the same order
  const paths = reviews.flatMap((review) => review.actions.map(() => review.ns));
  const [drafts, setDrafts] = useState<(DecisionDraft | null)[]>(() => actions.map(() => null));
  const [problem, setProblem] = useState<{ index: number; error: string } | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const toast = useToast();
  const headingId = useId();
  const lone = actions.length === 1;
  const locked = submitting || disabled === true;

  const send = async (chosen: (DecisionDraft | null)[]) => {
    const built = buildResume(actions, chosen);
    if ("error" in built) {
      setProblem({ index: built.index, error: built.error });
      return;
    }
    setProblem(null);
    setSubmitting(true);
    try {
      await onSubmit(built.resume.decisions);
    } catch (error) {
      toast({ tone: "error", title: "Your decision was not sent", detail: errorMessage(error) });
    } finally {
      setSubmitting(false);
    }
  };

  const setDraft = (index: number, draft: DecisionDraft | null) => {
    setDrafts((list) => list.map((item, i) => (i === index ? draft : item)));
    if (problem?.index === index) setProblem(null);
  };

  const canApproveAll = !lone && actions.every((action) => action.allowed.includes("approve"));
  const loneDraft = lone ? (drafts[0] ?? null) : null;

  return (
    <section
      aria-labelledby={headingId}
      className="flex animate-fade-in flex-col gap-3 rounded-xl border border-amber-200 bg-amber-50/70 p-3 text-sm sm:p-4 dark:border-amber-900/50 dark:bg-amber-950/30"
    >
      <div className="flex items-start gap-2">
        <ShieldAlert className="mt-0.5 size-4 shrink-0 text-amber-600 dark:text-amber-400" aria-hidden />
        <div>
          <h2 id={headingId} className="font-medium text-amber-900 dark:text-amber-200">
            Warren is waiting for your approval
          </h2>
          <p className="mt-0.5 text-xs text-amber-800/80 dark:text-amber-300/80">
            {lone
              ? "Nothing runs until you decide."
              : `${actions.length} actions are waiting. Decide on each; nothing runs until you send.`}
          </p>
        </div>
      </div>
      <ul className="flex flex-col gap-2">
        {actions.map((action, index) => (
          <ActionReview
            key={`${action.toolCallId ?? action.name}-${index}`}
            action={action}
            agent={agentName(paths[index] ?? [], subagents)}
            draft={drafts[index] ?? null}
            error={problem?.index === index ? problem.error : null}
            disabled={locked}
            submitting={submitting}
            lone={lone}
            onDraft={(draft) => setDraft(index, draft)}
            onApproveNow={() => void send([{ type: "approve" }])}
          />
        ))}
      </ul>
      {lone && loneDraft && loneDraft.type !== "approve" && (
        <div className="flex flex-wrap justify-end gap-2">
          <Button size="sm" variant="ghost" disabled={locked} onClick={() => setDraft(0, null)}>
            Cancel
          </Button>
          <Button
            size="sm"
            variant={loneDraft.type === "reject" ? "danger" : "primary"}
            busy={submitting}
            disabled={locked}
            onClick={() => void send(drafts)}
          >
            {submitLabel(loneDraft)}
          </Button>
        </div>
      )}
      {!lone && (
        <div className="flex flex-wrap justify-end gap-2">
          {canApproveAll && (
            <Button
              size="sm"
              disabled={locked}
              onClick={() => void send(actions.map(() => ({ type: "approve" })))}
              icon={<Check className="size-4" aria-hidden />}
            >
              Approve all
            </Button>
          )}
          <Button
            size="sm"
            variant="primary"
            busy={submitting}
            disabled={locked || drafts.some((draft) => draft === null)}
            onClick={() => void send(drafts)}
          >
            Send decisions
          </Button>
        </div>
      )}
      {submitting && (
        <p role="status" className="sr-only">
          Sending your decision…
        </p>
      )}
    </section>
  );
}
