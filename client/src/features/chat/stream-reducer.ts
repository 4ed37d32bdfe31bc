/**
 * The view model of one run, built from its SSE events by a pure reducer.
 *
 * Items keep the order in which they happened, per agent scope: the main agent's scope is
 * `[]`, and a subagent's scope is the `ns` of its events (the ids of the `task` calls above
 * it), so a `task` call's children live in the scope `[...call.ns, call.id]`.
 *
 * Replays are harmless: an event whose id is at or before the last applied id is ignored,
 * so resuming a stream (or joining it from the start) never duplicates anything.
 */

import type {
  ActionRequest,
  InterruptEvent,
  ReviewConfig,
  RunEvent,
  RunOutcomeStatus,
  RunUsage,
  SandboxStatus,
  Todo,
} from "../../api/types";
import { isAtOrBefore } from "../../lib/event-id";

export type ToolState = "streaming" | "running" | "success" | "error" | "stopped" | "waiting";
export type SubagentState = "running" | "success" | "error" | "stopped";

export interface SubagentView {
  type: string;
  description: string;
  status: SubagentState;
}

export interface ToolCallView {
  id: string;
  name: string;
  ns: string[];
  /** The raw argument JSON as the model wrote it, chunk by chunk. */
  argsText: string;
  /** The complete, parsed arguments (once the `tool_call` event arrived). */
  args: Record<string, unknown> | null;
  result: string | null;
  state: ToolState;
  subagent: SubagentView | null;
}

export interface TextView {
  key: string;
  messageId: string;
  ns: string[];
  text: string;
}

export type ItemRef = { kind: "text"; key: string } | { kind: "tool"; id: string };

export type RunPhase = "idle" | "starting" | "running" | RunOutcomeStatus;

export interface InterruptView {
  interruptId: string;
  ns: string[];
  actionRequests: ActionRequest[];
  reviewConfigs: ReviewConfig[];
}

export interface RunView {
  runId: string | null;
  threadId: string | null;
  /** The id of the last event applied; events at or before it are ignored. */
  lastEventId: string | null;
  phase: RunPhase;
  /** The user message that started the run, when this tab sent it (shown until history has it). */
  userText: string | null;
  /** Ordered items per agent scope (`scopeKey(ns)`); `""` is the main agent. */
  scopes: Record<string, ItemRef[]>;
  texts: Record<string, TextView>;
  tools: Record<string, ToolCallView>;
  todos: Todo[] | null;
  sandbox: { status: SandboxStatus; detail: string } | null;
  usage: RunUsage | null;
  error: { code: string; detail: string } | null;
  interrupts: InterruptView[];
  /** Counter for text without a message id. */
  anonymous: number;
}

export type StreamAction =
  | { type: "reset" }
  | { type: "restore"; view: RunView }
  /** This tab is starting a run with `text`. */
  | { type: "send"; text: string }
  /**
   * This tab is continuing a run paused for approval: what it showed stays (the waiting calls
   * then run in place), and the continuation's events are applied on top.
   */
  | { type: "resume" }
  /** One event from the stream; `id` is its SSE id (null when the frame had none). */
  | { type: "event"; id: string | null; event: RunEvent };

export const initialRunView: RunView = {
  runId: null,
  threadId: null,
  lastEventId: null,
  phase: "idle",
  userText: null,
  scopes: {},
  texts: {},
  tools: {},
  todos: null,
  sandbox: null,
  usage: null,
  error: null,
  interrupts: [],
  anonymous: 0,
};

const SCOPE_SEPARATOR = "\u001f";

export function scopeKey(ns: readonly string[]): string {
  return ns.join(SCOPE_SEPARATOR);
}

/** The scope holding the activity of a `task` call's subagent. */
export function childScopeKey(tool: Pick<ToolCallView, "id" | "ns">): string {
  return scopeKey([...tool.ns, tool.id]);
}

export function isTerminal(phase: RunPhase): phase is RunOutcomeStatus {
  return phase === "success" || phase === "error" || phase === "interrupted" || phase === "cancelled";
}

export function isLive(phase: RunPhase): boolean {
  return phase === "starting" || phase === "running";
}

export function streamReducer(state: RunView, action: StreamAction): RunView {
  switch (action.type) {
    case "reset":
      return initialRunView;
    case "restore":
      return action.view;
    case "send":
      return { ...initialRunView, phase: "starting", userText: action.text };
    case "resume":
      return state.phase === "interrupted" ? continued(state) : { ...initialRunView, phase: "starting" };
    case "event":
      return applyEvent(state, action.id, action.event);
  }
}

function applyEvent(state: RunView, id: string | null, event: RunEvent): RunView {
  if (id !== null && isAtOrBefore(id, state.lastEventId)) return state; // a replay
  if (state.runId !== null && event.run_id !== state.runId) return state; // another run's
  if (isTerminal(state.phase)) return state; // nothing follows `done`
  const base: RunView = {
    ...state,
    runId: event.run_id,
    lastEventId: id ?? state.lastEventId,
    phase: state.phase === "idle" || state.phase === "starting" ? "running" : state.phase,
  };
  switch (event.type) {
    case "run_started":
      return { ...base, threadId: event.thread_id };
    case "message":
      return appendText(base, event.ns, event.message_id, event.content);
    case "tool_call_delta":
      return upsertTool(base, event.tool_call_id, event.ns, (tool) => ({
        ...tool,
        name: tool.name || event.name,
        argsText: tool.argsText + event.args_delta,
      }));
    case "tool_call":
      return upsertTool(base, event.tool_call_id, event.ns, (tool) => ({
        ...tool,
        name: event.name || tool.name,
        args: event.args,
        // a call that waited for approval runs once the continuation restates it
        state: tool.state === "streaming" || tool.state === "waiting" ? "running" : tool.state,
      }));
    case "tool_result":
      return upsertTool(base, event.tool_call_id, event.ns, (tool) => ({
        ...tool,
        name: tool.name || event.name,
        result: event.content,
        state: event.status === "error" ? "error" : "success",
      }));
    case "subagent_started":
      return upsertTool(base, event.tool_call_id, event.ns, (tool) => ({
        ...tool,
        name: tool.name || "task",
        state: tool.state === "streaming" ? "running" : tool.state,
        subagent: { type: event.subagent_type, description: event.description, status: "running" },
      }));
    case "subagent_finished":
      return upsertTool(base, event.tool_call_id, event.ns, (tool) => ({
        ...tool,
        name: tool.name || "task",
        subagent: {
          type: tool.subagent?.type || event.subagent_type,
          description: tool.subagent?.description ?? "",
          status: event.status,
        },
      }));
    case "todos":
      return { ...base, todos: event.todos };
    case "interrupt":
      return { ...base, interrupts: [...base.interrupts, interruptView(event)] };
    case "sandbox":
      return { ...base, sandbox: { status: event.status, detail: event.detail } };
    case "usage":
      return { ...base, usage: { input_tokens: event.input_tokens, output_tokens: event.output_tokens } };
    case "error":
      return { ...base, error: { code: event.code, detail: event.detail } };
    case "done":
      return finish({ ...base, threadId: base.threadId ?? event.thread_id }, event.status);
  }
}

/** The view of an interrupted run, ready for its continuation (a new run) to add to it. */
function continued(state: RunView): RunView {
  const tools: Record<string, ToolCallView> = {};
  for (const [id, tool] of Object.entries(state.tools)) {
    tools[id] = tool.state === "waiting" ? { ...tool, state: "running" } : tool;
  }
  return {
    ...state,
    runId: null,
    lastEventId: null,
    phase: "starting",
    interrupts: [],
    error: null,
    usage: null,
    tools,
  };
}

function interruptView(event: InterruptEvent): InterruptView {
  return {
    interruptId: event.interrupt_id,
    ns: event.ns,
    actionRequests: event.action_requests,
    reviewConfigs: event.review_configs,
  };
}

function appendText(state: RunView, ns: string[], messageId: string, content: string): RunView {
  const scope = scopeKey(ns);
  const items = state.scopes[scope] ?? [];
  let key: string;
  let anonymous = state.anonymous;
  if (messageId) {
    key = `${scope}${SCOPE_SEPARATOR}${messageId}`;
  } else {
    // No id: continue the scope's last text, or open a new one.
    const last = items[items.length - 1];
    if (last?.kind === "text" && state.texts[last.key]?.messageId === "") {
      key = last.key;
    } else {
      anonymous += 1;
      key = `${scope}${SCOPE_SEPARATOR}#${anonymous}`;
    }
  }
  const existing = state.texts[key];
  const text: TextView = existing
    ? { ...existing, text: existing.text + content }
    : { key, messageId, ns, text: content };
  return {
    ...state,
    anonymous,
    texts: { ...state.texts, [key]: text },
    scopes: existing ? state.scopes : { ...state.scopes, [scope]: [...items, { kind: "text", key }] },
  };
}

function upsertTool(state: RunView, id: string, ns: string[], update: (tool: ToolCallView) => ToolCallView): RunView {
  const existing = state.tools[id];
  const tool: ToolCallView = existing ?? {
    id,
    name: "",
    ns,
    argsText: "",
    args: null,
    result: null,
    state: "streaming",
    subagent: null,
  };
  const next = { ...state, tools: { ...state.tools, [id]: update(tool) } };
  if (!existing) {
    const scope = scopeKey(ns);
    next.scopes = { ...state.scopes, [scope]: [...(state.scopes[scope] ?? []), { kind: "tool", id }] };
  }
  return next;
}

function finish(state: RunView, status: RunOutcomeStatus): RunView {
  // interrupted for an approval: open calls wait for it; interrupted by a server restart
  // (an error came first, and no approval is pending): they were stopped
  const waiting = status === "interrupted" && state.interrupts.length > 0 && !state.error;
  const open: ToolState = waiting ? "waiting" : "stopped";
  const tools: Record<string, ToolCallView> = {};
  for (const [id, tool] of Object.entries(state.tools)) {
    const pending = tool.state === "streaming" || tool.state === "running";
    const subagent =
      tool.subagent?.status === "running" ? { ...tool.subagent, status: "stopped" as const } : tool.subagent;
    tools[id] =
      pending || subagent !== tool.subagent ? { ...tool, state: pending ? open : tool.state, subagent } : tool;
  }
  return { ...state, phase: status, tools };
}

/** Partial JSON made presentable while it streams: pretty when it parses, raw otherwise. */
export function formatArgs(tool: Pick<ToolCallView, "args" | "argsText">): string {
  if (tool.args) return JSON.stringify(tool.args, null, 2);
  if (!tool.argsText) return "";
  try {
    return JSON.stringify(JSON.parse(tool.argsText), null, 2);
  } catch {
    return tool.argsText;
  }
}
