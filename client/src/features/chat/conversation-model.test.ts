import { describe, expect, it } from "vitest";
import type { Message } from "../../api/types";
import { historyHasUserText, historyItems, liveIds } from "./conversation-model";
import { initialRunView, streamReducer } from "./stream-reducer";

const messages: Message[] = [
  { id: "u1", role: "user", content: "hi" },
  { id: "a1", role: "assistant", content: "Checking.", tool_calls: [{ id: "c1", name: "ls", args: { path: "/" } }] },
  { id: "t1", role: "tool", content: "['/a']", tool_call_id: "c1", name: "ls" },
  { id: "a2", role: "assistant", content: "Done." },
];

describe("conversation model", () => {
  it("turns messages into items, with results inside their tool calls", () => {
    const items = historyItems(messages, new Set(), "idle");
    expect(items.map((i) => i.kind)).toEqual(["user", "assistant", "tool", "assistant"]);
    const tool = items[2];
    expect(tool?.kind === "tool" && tool.tool).toMatchObject({ name: "ls", result: "['/a']", state: "success" });
  });

  it("keeps a failed tool call failed after a reload", () => {
    const failed: Message[] = [
      {
        id: "a1",
        role: "assistant",
        content: "",
        tool_calls: [{ id: "c2", name: "execute", args: { command: "false" } }],
      },
      { id: "t2", role: "tool", content: "exit 1", tool_call_id: "c2", name: "execute", status: "error" },
    ];
    const tool = historyItems(failed, new Set(), "idle").find((item) => item.kind === "tool");
    expect(tool?.kind === "tool" && tool.tool.state).toBe("error");
  });

  it("hides what the live run already shows, and knows when the user message arrived", () => {
    let view = streamReducer(initialRunView, { type: "send", text: "hi" });
    view = streamReducer(view, {
      type: "event",
      id: "1",
      event: { run_id: "r", type: "message", ns: [], message_id: "a1", content: "Checking." },
    });
    view = streamReducer(view, {
      type: "event",
      id: "2",
      event: { run_id: "r", type: "tool_call", ns: [], tool_call_id: "c1", name: "ls", args: {} },
    });
    const hidden = liveIds(view);
    const items = historyItems(messages.slice(0, 3), hidden, "busy");
    expect(items.map((i) => i.id)).toEqual(["u1"]);
    expect(historyHasUserText(messages.slice(0, 3), "hi", hidden)).toBe(true);
    // before the history caught up, the optimistic message is still needed
    expect(historyHasUserText([], "hi", hidden)).toBe(false);
    // the same text sent twice: the earlier run's answer sits in between
    expect(historyHasUserText(messages, "hi", hidden)).toBe(false);
  });

  it("marks a call without a result as waiting when the thread waits for approval", () => {
    const pending: Message[] = [
      { id: "u1", role: "user", content: "delete it" },
      {
        id: "a1",
        role: "assistant",
        content: "",
        tool_calls: [{ id: "c9", name: "execute", args: { command: "rm x" } }],
      },
    ];
    const [, tool] = historyItems(pending, new Set(), "interrupted");
    expect(tool?.kind === "tool" && tool.tool.state).toBe("waiting");
  });
});
