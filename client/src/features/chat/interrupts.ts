/**
 * Human in the loop, as data: what a paused run asks a person about, and the `resume` body
 * that answers it.
 *
 * A run pauses with an `interrupt` event (and the thread's `GET /state` lists the pending
 * interrupts, so the question survives a reload). Each interrupt holds action requests (the
 * tool calls waiting for review) and, index for index, the decisions each one allows. The
 * answer is one decision per action request, in order, over every pending interrupt.
 */

import type { Decision, DecisionType, Message, PendingInterrupt, ResumeRequest, ThreadState } from "../../api/types";
import type { InterruptView, RunView, ToolCallView } from "./stream-reducer";

export const DECISION_TYPES: readonly DecisionType[] = ["approve", "edit", "reject", "respond"];

/** What a reviewer is asked about one action, normalised from the server's payload. */
export interface ReviewAction {
  name: string;
  args: Record<string, unknown>;
  description: string | null;
  toolCallId: string | null;
  /** The decisions offered, in a stable order (approve, edit, reject, respond). */
  allowed: DecisionType[];
}

/** One pending interrupt: the actions it asks about. */
export interface PendingReview {
  /** Stable for React keys: the interrupt id from `/state`, or the event's position. */
  key: string;
  /** The agent that paused: `[]` the main agent, else the `task` call ids above the subagent. */
  ns: string[];
  actions: ReviewAction[];
}

/** The decision a reviewer is composing for one action, before it is checked. */
export type DecisionDraft =
  | { type: "approve" }
  | { type: "edit"; argsText: string }
  | { type: "reject"; message: string }
  | { type: "respond"; message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decisionTypes(value: unknown): DecisionType[] {
  if (!Array.isArray(value)) return [];
  return DECISION_TYPES.filter((type) => value.includes(type));
}

/**
 * The allowed decisions of the action at `index`: the review config at the same index when it
 * names this action (how the server pairs them), else the first config for the action's name.
 * Without one, the server's defaults (approve, edit, reject) are offered.
 */
function allowedFor(name: string, index: number, configs: readonly unknown[]): DecisionType[] {
  const same = configs[index];
  const config =
    isRecord(same) && same.action_name === name
      ? same
      : configs.find((item): item is Record<string, unknown> => isRecord(item) && item.action_name === name);
  const allowed = config ? decisionTypes(config.allowed_decisions) : [];
  return allowed.length > 0 ? allowed : ["approve", "edit", "reject"];
}

/** What the server says when it has nothing particular to say about an action. */
const DEFAULT_DESCRIPTION = "Tool execution requires approval";

/**
 * What an action's description adds to the card: not the arguments the server's default one
 * repeats (`"…\n\nTool: <name>\nArgs: <args>"`), nor its generic first line.
 */
export function describedAction(description: unknown, name: string): string | null {
  if (typeof description !== "string") return null;
  const repeat = description.indexOf(`\n\nTool: ${name}\nArgs: `);
  const text = (repeat >= 0 ? description.slice(0, repeat) : description).trim();
  return text && text !== DEFAULT_DESCRIPTION ? text : null;
}

function actionOf(request: unknown, index: number, configs: readonly unknown[]): ReviewAction | null {
  if (!isRecord(request) || typeof request.name !== "string") return null;
  const explicit = "allowed_decisions" in request ? decisionTypes(request.allowed_decisions) : [];
  return {
    name: request.name,
    args: isRecord(request.args) ? request.args : {},
    description: describedAction(request.description, request.name),
    toolCallId: typeof request.tool_call_id === "string" ? request.tool_call_id : null,
    allowed: explicit.length > 0 ? explicit : allowedFor(request.name, index, configs),
  };
}

/**
 * The actions of one interrupt's value: a batch (`{action_requests, review_configs}`), or a
 * single tool approval (`{type: "tool_approval", name, args, …}`). Anything else asks nothing.
 */
export function reviewActions(value: unknown): ReviewAction[] {
  if (!isRecord(value)) return [];
  if (Array.isArray(value.action_requests)) {
    const configs = Array.isArray(value.review_configs) ? value.review_configs : [];
    return value.action_requests
      .map((request, index) => actionOf(request, index, configs))
      .filter((action): action is ReviewAction => action !== null);
  }
  if (value.type === "tool_approval") {
    const action = actionOf(value, 0, []);
    return action ? [action] : [];
  }
  return [];
}

/** Pending reviews from the thread's state (`GET /state` → `interrupts`). */
export function reviewsFromState(interrupts: readonly PendingInterrupt[]): PendingReview[] {
  return interrupts
    .map((interrupt, index) => ({
      key: interrupt.id || `state-${index}`,
      ns: Array.isArray(interrupt.ns) ? interrupt.ns : [],
      // a pause that is not a tool review has no action requests: read its raw value
      actions: reviewActions(interrupt.action_requests.length > 0 ? interrupt : interrupt.value),
    }))
    .filter((review) => review.actions.length > 0);
}

/** Pending reviews from the `interrupt` events of a live run. */
export function reviewsFromEvents(interrupts: readonly InterruptView[]): PendingReview[] {
  return interrupts
    .map((interrupt, index) => ({
      key: interrupt.interruptId || `event-${index}`,
      ns: Array.isArray(interrupt.ns) ? interrupt.ns : [],
      actions: reviewActions({ action_requests: interrupt.actionRequests, review_configs: interrupt.reviewConfigs }),
    }))
    .filter((review) => review.actions.length > 0);
}

/**
 * What waits for a decision now. While a run is live, nothing (it may still pause). A run
 * this tab saw pause: its `interrupt` events (the saved state may not have caught up). Else,
 * with no run followed here (after a reload, or in another tab), the saved state's pending
 * interrupts; once a run ended otherwise, its state is being refetched and is not trusted.
 */
export function pendingReviews(view: RunView, state: Pick<ThreadState, "interrupts">): PendingReview[] {
  if (view.phase === "interrupted") return reviewsFromEvents(view.interrupts);
  if (view.phase === "idle") return reviewsFromState(state.interrupts);
  return [];
}

/**
 * The subagent type of each `task` call (by call id), from the saved messages and the live
 * run, so a pause inside a subagent can say whose it is.
 */
export function subagentTypes(
  messages: readonly Message[],
  tools: Readonly<Record<string, Pick<ToolCallView, "name" | "args" | "subagent">>>,
): Map<string, string> {
  const types = new Map<string, string>();
  for (const message of messages) {
    for (const call of message.tool_calls ?? []) {
      if (call.name === "task" && typeof call.args.subagent_type === "string")
        types.set(call.id, call.args.subagent_type);
    }
  }
  for (const [id, tool] of Object.entries(tools)) {
    const type = tool.subagent?.type ?? (typeof tool.args?.subagent_type === "string" ? tool.args.subagent_type : null);
    if (type) types.set(id, type);
  }
  return types;
}

/** Every action of the pending reviews, in the order the decisions must follow. */
export function allActions(reviews: readonly PendingReview[]): ReviewAction[] {
  return reviews.flatMap((review) => review.actions);
}

/** The draft a decision type starts from (an edit starts from the requested arguments). */
export function draftFor(type: DecisionType, action: ReviewAction): DecisionDraft {
  switch (type) {
    case "approve":
      return { type };
    case "edit":
      return { type, argsText: JSON.stringify(action.args, null, 2) };
    case "reject":
    case "respond":
      return { type, message: "" };
  }
}

/** Edited arguments: a JSON object, or a sentence saying what is wrong with the text. */
export function parseArgs(text: string): { args: Record<string, unknown> } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "";
    return { error: `The arguments are not valid JSON${reason ? `: ${reason}` : "."}` };
  }
  if (!isRecord(parsed)) return { error: 'The arguments must be a JSON object, like {"path": "/notes.md"}.' };
  return { args: parsed };
}

/** One checked decision, or why it cannot be sent yet. */
export function toDecision(action: ReviewAction, draft: DecisionDraft): { decision: Decision } | { error: string } {
  if (!action.allowed.includes(draft.type)) return { error: `“${draft.type}” is not allowed for ${action.name}.` };
  switch (draft.type) {
    case "approve":
      return { decision: { type: "approve" } };
    case "edit": {
      const parsed = parseArgs(draft.argsText);
      if ("error" in parsed) return parsed;
      return { decision: { type: "edit", edited_action: { name: action.name, args: parsed.args } } };
    }
    case "reject": {
      const message = draft.message.trim();
      return { decision: message ? { type: "reject", message } : { type: "reject" } };
    }
    case "respond": {
      const message = draft.message.trim();
      if (!message) return { error: "Write the reply the agent should get instead of running the tool." };
      return { decision: { type: "respond", message } };
    }
  }
}

/**
 * The `resume` body for these actions, or the first problem (with the index of the action it
 * concerns): every action needs exactly one valid decision.
 */
export function buildResume(
  actions: readonly ReviewAction[],
  drafts: readonly (DecisionDraft | null)[],
): { resume: ResumeRequest } | { error: string; index: number } {
  const decisions: Decision[] = [];
  for (const [index, action] of actions.entries()) {
    const draft = drafts[index];
    if (!draft) return { error: `Choose what to do with ${action.name}.`, index };
    const checked = toDecision(action, draft);
    if ("error" in checked) return { error: checked.error, index };
    decisions.push(checked.decision);
  }
  return { resume: { decisions } };
}
