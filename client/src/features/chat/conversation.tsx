import { useMemo } from "react";
import type { Decision, RunPublic, ThreadState } from "../../api/types";
import { Spinner } from "../../components/spinner";
import { AssistantText } from "./assistant-text";
import { historyHasUserText, historyItems, liveIds } from "./conversation-model";
import { InterruptCard } from "./interrupt-card";
import { pendingReviews, subagentTypes } from "./interrupts";
import { RunNotice } from "./run-notice";
import { RunScope } from "./run-scope";
import { UsageText } from "./run-status-line";
import { isLive, isTerminal, type RunView } from "./stream-reducer";
import { ToolCallCard } from "./tool-call-card";
import { UserMessage } from "./user-message";

interface ConversationProps {
  state: ThreadState;
  view: RunView;
  latestRun: RunPublic | null;
  /** Answer the pending approvals (continues the paused run). */
  onResume: (decisions: Decision[]) => Promise<void>;
}

/** The saved conversation, then the live run, without duplicates. */
export function Conversation({ state, view, latestRun, onResume }: ConversationProps) {
  const hidden = useMemo(() => liveIds(view), [view]);
  const items = useMemo(
    () => historyItems(state.messages, hidden, state.status),
    [state.messages, hidden, state.status],
  );
  const showUserText = view.userText !== null && !historyHasUserText(state.messages, view.userText, hidden);
  const live = isLive(view.phase);
  const main = view.scopes[""] ?? [];
  const lastItem = main[main.length - 1];
  const writing = live && lastItem?.kind === "text";
  const reviews = useMemo(() => pendingReviews(view, state), [view, state]);
  const subagents = useMemo(
    () => (reviews.some((review) => review.ns.length > 0) ? subagentTypes(state.messages, view.tools) : undefined),
    [reviews, state.messages, view.tools],
  );

  return (
    <>
      {items.map((item) =>
        item.kind === "user" ? (
          <UserMessage key={item.id} text={item.text} />
        ) : item.kind === "assistant" ? (
          <AssistantText key={item.id} text={item.text} />
        ) : (
          <ToolCallCard key={item.id} tool={item.tool} />
        ),
      )}
      {showUserText && view.userText !== null && <UserMessage text={view.userText} />}
      {view.phase !== "idle" && <RunScope view={view} scope="" />}
      {live && !writing && (
        <p className="flex items-center gap-2 text-sm text-zinc-500" role="status">
          <Spinner className="size-4 text-accent-500" /> {view.phase === "starting" ? "Starting…" : "Working…"}
        </p>
      )}
      {reviews.length > 0 && (
        // a new question (another pause) starts with fresh drafts
        <InterruptCard
          key={reviews.map((review) => review.key).join(" ")}
          reviews={reviews}
          onSubmit={onResume}
          subagents={subagents}
        />
      )}
      {isTerminal(view.phase) && <RunNotice status={view.phase} error={view.error} />}
      {view.phase === "idle" && latestRun && (
        <div className="flex flex-col gap-2">
          <RunNotice status={latestRun.status} error={latestRun.error} />
          {(latestRun.usage.input_tokens > 0 || latestRun.usage.output_tokens > 0) && (
            <p className="text-xs text-zinc-400">
              Last run: <UsageText usage={latestRun.usage} /> · {latestRun.model}
            </p>
          )}
        </div>
      )}
    </>
  );
}
