/**
 * What the chat shows: the saved conversation (`GET /state`) followed by the live run, with
 * every message the live run already shows taken out of the history (same message and tool
 * call ids), so nothing appears twice while the history catches up.
 */

import type { Message, ThreadStatus } from "../../api/types";
import type { RunView, ToolCallView } from "./stream-reducer";

export type HistoryItem =
  | { kind: "user"; id: string; text: string }
  | { kind: "assistant"; id: string; text: string }
  | { kind: "tool"; id: string; tool: ToolCallView };

/** Ids the live run displays: its assistant messages and tool calls. */
export function liveIds(view: RunView): Set<string> {
  const ids = new Set<string>();
  for (const text of Object.values(view.texts)) if (text.messageId) ids.add(text.messageId);
  for (const id of Object.keys(view.tools)) ids.add(id);
  return ids;
}

/** The history as display items; tool calls carry their results. */
export function historyItems(
  messages: readonly Message[],
  hidden: ReadonlySet<string>,
  status: ThreadStatus,
): HistoryItem[] {
  const results = new Map<string, Message>();
  for (const message of messages) {
    if (message.role === "tool" && message.tool_call_id) results.set(message.tool_call_id, message);
  }
  const items: HistoryItem[] = [];
  const lastIndex = messages.length - 1;
  messages.forEach((message, index) => {
    if (message.role === "user") {
      items.push({ kind: "user", id: message.id || `user-${index}`, text: message.content });
      return;
    }
    if (message.role !== "assistant") return; // tool messages are shown inside their call
    const calls = message.tool_calls ?? [];
    if (hidden.has(message.id) || calls.some((call) => hidden.has(call.id))) return;
    if (message.content.trim())
      items.push({ kind: "assistant", id: message.id || `assistant-${index}`, text: message.content });
    for (const call of calls) {
      const result = results.get(call.id);
      const awaiting = !result && status === "interrupted" && index >= lastIndex - calls.length;
      items.push({
        kind: "tool",
        id: call.id,
        tool: {
          id: call.id,
          name: call.name,
          ns: [],
          argsText: "",
          args: call.args,
          result: result?.content ?? null,
          // a call without a saved result was stopped before it finished
          state: result ? (result.status === "error" ? "error" : "success") : awaiting ? "waiting" : "stopped",
          subagent: null,
        },
      });
    }
  });
  return items;
}

/**
 * Whether the optimistic user message of the live run is already in the history: the last
 * user message has the same text and everything after it belongs to the live run.
 */
export function historyHasUserText(messages: readonly Message[], text: string, hidden: ReadonlySet<string>): boolean {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (!message) continue;
    if (message.role === "user") return message.content === text;
    const belongsToRun =
      hidden.has(message.id) ||
      (message.tool_call_id != null && hidden.has(message.tool_call_id)) ||
      (message.tool_calls ?? []).some((call) => hidden.has(call.id));
    if (!belongsToRun) return false;
  }
  return false;
}
