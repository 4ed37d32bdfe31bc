import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../api/types";
import {
  childScopeKey,
  formatArgs,
  initialRunView,
  scopeKey,
  streamReducer,
  type RunView,
  type StreamAction,
} from "./stream-reducer";

const RUN = "run-1";
type Payload = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, "run_id"> : never) : never;

/** Frames of one run with consecutive ids, as the server sends them. */
function frames(payloads: Payload[], firstId = 1): StreamAction[] {
  return payloads.map((payload, i) => ({
    type: "event",
    id: String(firstId + i),
    event: { run_id: RUN, ...payload },
  }));
}

function reduce(actions: StreamAction[], from: RunView = initialRunView): RunView {
  return actions.reduce(streamReducer, from);
}

const main: string[] = [];

const scenario: Payload[] = [
  { type: "run_started", thread_id: "t1" },
  { type: "message", ns: main, message_id: "m1", content: "Let me " },
  { type: "message", ns: main, message_id: "m1", content: "check." },
  { type: "tool_call_delta", ns: main, tool_call_id: "c1", name: "web_search", args_delta: '{"qu' },
  { type: "tool_call_delta", ns: main, tool_call_id: "c2", name: "task", args_delta: '{"descr' },
  { type: "tool_call_delta", ns: main, tool_call_id: "c1", name: "web_search", args_delta: 'ery":"rabbits"}' },
  { type: "tool_call_delta", ns: main, tool_call_id: "c2", name: "task", args_delta: 'iption":"dig"}' },
  { type: "tool_call", ns: main, tool_call_id: "c1", name: "web_search", args: { query: "rabbits" } },
  {
    type: "tool_call",
    ns: main,
    tool_call_id: "c2",
    name: "task",
    args: { description: "dig", subagent_type: "researcher" },
  },
  { type: "subagent_started", ns: main, tool_call_id: "c2", subagent_type: "researcher", description: "dig" },
  { type: "message", ns: ["c2"], message_id: "s1", content: "Digging" },
  { type: "tool_call", ns: ["c2"], tool_call_id: "c3", name: "read_file", args: { path: "/a" } },
  { type: "tool_result", ns: ["c2"], tool_call_id: "c3", name: "read_file", content: "A", status: "success" },
  { type: "subagent_finished", ns: main, tool_call_id: "c2", subagent_type: "researcher", status: "success" },
  { type: "tool_result", ns: main, tool_call_id: "c1", name: "web_search", content: "oops", status: "error" },
  { type: "tool_result", ns: main, tool_call_id: "c2", name: "task", content: "found", status: "success" },
  {
    type: "todos",
    todos: [
      { content: "Search", status: "completed" },
      { content: "Write", status: "in_progress" },
    ],
  },
  { type: "sandbox", status: "ready", detail: "local" },
  { type: "message", ns: main, message_id: "m2", content: "Done." },
  { type: "usage", input_tokens: 120, output_tokens: 45 },
  { type: "done", thread_id: "t1", status: "success" },
];

describe("streamReducer", () => {
  it("builds the ordered view model of a run", () => {
    const view = reduce(frames(scenario));
    expect(view.runId).toBe(RUN);
    expect(view.threadId).toBe("t1");
    expect(view.phase).toBe("success");
    expect(view.lastEventId).toBe(String(scenario.length));
    expect(view.scopes[scopeKey(main)]).toEqual([
      { kind: "text", key: expect.any(String) },
      { kind: "tool", id: "c1" },
      { kind: "tool", id: "c2" },
      { kind: "text", key: expect.any(String) },
    ]);
    const [first, , , last] = view.scopes[""]!;
    expect(first?.kind === "text" && view.texts[first.key]?.text).toBe("Let me check.");
    expect(last?.kind === "text" && view.texts[last.key]?.text).toBe("Done.");
    expect(view.todos).toHaveLength(2);
    expect(view.sandbox).toEqual({ status: "ready", detail: "local" });
    expect(view.usage).toEqual({ input_tokens: 120, output_tokens: 45 });
    expect(view.error).toBeNull();
  });

  it("merges streamed argument chunks by tool call id, even interleaved", () => {
    const deltas = reduce(frames(scenario.slice(0, 7)));
    expect(deltas.tools.c1).toMatchObject({
      name: "web_search",
      argsText: '{"query":"rabbits"}',
      state: "streaming",
      args: null,
    });
    expect(deltas.tools.c2?.argsText).toBe('{"description":"dig"}');
    expect(formatArgs(deltas.tools.c1!)).toBe('{\n  "query": "rabbits"\n}');
    expect(formatArgs({ args: null, argsText: '{"qu' })).toBe('{"qu');

    const done = reduce(frames(scenario));
    expect(done.tools.c1).toMatchObject({ args: { query: "rabbits" }, result: "oops", state: "error" });
    expect(done.tools.c2).toMatchObject({ result: "found", state: "success" });
  });

  it("moves a call from streaming to running when its complete arguments arrive", () => {
    const view = reduce(frames(scenario.slice(0, 8)));
    expect(view.tools.c1?.state).toBe("running");
    expect(view.tools.c2?.state).toBe("streaming");
  });

  it("nests subagent activity under its task call", () => {
    const view = reduce(frames(scenario));
    const task = view.tools.c2!;
    expect(task.subagent).toEqual({ type: "researcher", description: "dig", status: "success" });
    const children = view.scopes[childScopeKey(task)];
    expect(children).toEqual([
      { kind: "text", key: expect.any(String) },
      { kind: "tool", id: "c3" },
    ]);
    expect(view.tools.c3).toMatchObject({ ns: ["c2"], result: "A", state: "success" });
    // nothing of the subagent leaks into the main scope
    expect(view.scopes[""]!.some((item) => item.kind === "tool" && item.id === "c3")).toBe(false);
  });

  it("nests two levels deep", () => {
    const view = reduce(
      frames([
        { type: "tool_call", ns: main, tool_call_id: "a", name: "task", args: {} },
        { type: "subagent_started", ns: main, tool_call_id: "a", subagent_type: "x", description: "outer" },
        { type: "tool_call", ns: ["a"], tool_call_id: "b", name: "task", args: {} },
        { type: "subagent_started", ns: ["a"], tool_call_id: "b", subagent_type: "y", description: "inner" },
        { type: "tool_call", ns: ["a", "b"], tool_call_id: "c", name: "ls", args: {} },
      ]),
    );
    expect(view.scopes[childScopeKey(view.tools.a!)]).toEqual([{ kind: "tool", id: "b" }]);
    expect(view.scopes[childScopeKey(view.tools.b!)]).toEqual([{ kind: "tool", id: "c" }]);
  });

  it("ignores replayed events, so resuming never duplicates", () => {
    const all = frames(scenario);
    const straight = reduce(all);
    // the connection dropped after event 12; the resume replays from 9 (overlap) onwards
    const resumed = reduce(all.slice(8), reduce(all.slice(0, 12)));
    expect(resumed).toEqual(straight);
    // a full replay on top of a complete view changes nothing
    expect(reduce(all, straight)).toBe(straight);
    // replaying the text deltas does not repeat text
    const texts = Object.values(resumed.texts).map((t) => t.text);
    expect(texts).toEqual(["Let me check.", "Digging", "Done."]);
  });

  it("compares Redis-style ids as integers", () => {
    const ids = ["1716900000000-9", "1716900000000-10", "1716900000001-0"];
    const actions: StreamAction[] = ids.map((id, i) => ({
      type: "event",
      id,
      event: { run_id: RUN, type: "message", ns: [], message_id: "m", content: `${i}` },
    }));
    const view = reduce([...actions, actions[0]!, actions[1]!]);
    expect(Object.values(view.texts)[0]?.text).toBe("012");
    expect(view.lastEventId).toBe("1716900000001-0");
  });

  it("records a cancelled run and stops open tool calls", () => {
    const view = reduce(
      frames([
        { type: "run_started", thread_id: "t1" },
        { type: "tool_call", ns: main, tool_call_id: "c1", name: "execute", args: { command: "sleep 60" } },
        { type: "tool_call", ns: main, tool_call_id: "t", name: "task", args: {} },
        { type: "subagent_started", ns: main, tool_call_id: "t", subagent_type: "x", description: "d" },
        { type: "usage", input_tokens: 1, output_tokens: 2 },
        { type: "done", thread_id: "t1", status: "cancelled" },
      ]),
    );
    expect(view.phase).toBe("cancelled");
    expect(view.tools.c1?.state).toBe("stopped");
    expect(view.tools.t?.subagent?.status).toBe("stopped");
  });

  it("records an error run with its error", () => {
    const view = reduce(
      frames([
        { type: "run_started", thread_id: "t1" },
        { type: "error", code: "model_auth_failed", detail: "the model provider rejected MODEL_API_KEY" },
        { type: "done", thread_id: "t1", status: "error" },
      ]),
    );
    expect(view.phase).toBe("error");
    expect(view.error).toEqual({ code: "model_auth_failed", detail: "the model provider rejected MODEL_API_KEY" });
  });

  it("keeps calls waiting when the run stops for approval", () => {
    const view = reduce(
      frames([
        { type: "tool_call", ns: main, tool_call_id: "c1", name: "execute", args: { command: "rm -rf /tmp/x" } },
        {
          type: "interrupt",
          interrupt_id: "i1",
          ns: main,
          action_requests: [
            { name: "execute", args: { command: "rm -rf /tmp/x" }, description: "", tool_call_id: "c1" },
          ],
          review_configs: [{ action_name: "execute", allowed_decisions: ["approve", "reject"] }],
        },
        { type: "done", thread_id: "t1", status: "interrupted" },
      ]),
    );
    expect(view.phase).toBe("interrupted");
    expect(view.tools.c1?.state).toBe("waiting");
    expect(view.interrupts).toHaveLength(1);
  });

  it("continues a paused run in place: waiting calls run, and the continuation adds to the view", () => {
    const paused = reduce(
      frames([
        { type: "run_started", thread_id: "t1" },
        { type: "message", ns: main, message_id: "m1", content: "I will clean up." },
        { type: "tool_call", ns: main, tool_call_id: "c1", name: "execute", args: { command: "rm -rf build" } },
        { type: "tool_call", ns: main, tool_call_id: "c2", name: "write_file", args: { file_path: "/a" } },
        {
          type: "interrupt",
          interrupt_id: "i1",
          ns: main,
          action_requests: [
            { name: "execute", args: { command: "rm -rf build" }, description: "", tool_call_id: "c1" },
            { name: "write_file", args: { file_path: "/a" }, description: "", tool_call_id: "c2" },
          ],
          review_configs: [
            { action_name: "execute", allowed_decisions: ["approve", "edit", "reject"] },
            { action_name: "write_file", allowed_decisions: ["approve", "edit", "reject"] },
          ],
        },
        { type: "usage", input_tokens: 10, output_tokens: 5 },
        { type: "done", thread_id: "t1", status: "interrupted" },
      ]),
      streamReducer(initialRunView, { type: "send", text: "clean up" }),
    );
    expect(paused.interrupts[0]?.ns).toEqual([]);
    const resumed = streamReducer(paused, { type: "resume" });
    expect(resumed).toMatchObject({ phase: "starting", runId: null, lastEventId: null, interrupts: [], usage: null });
    expect(resumed.userText).toBe("clean up");
    expect([resumed.tools.c1?.state, resumed.tools.c2?.state]).toEqual(["running", "running"]);

    // the continuation is another run, with its own ids from 1
    const RUN2 = "run-2";
    const next: Payload[] = [
      { type: "run_started", thread_id: "t1" },
      { type: "tool_call", ns: main, tool_call_id: "c1", name: "execute", args: { command: "rm -rf build/tmp" } },
      { type: "tool_result", ns: main, tool_call_id: "c1", name: "execute", content: "ok", status: "success" },
      {
        type: "tool_result",
        ns: main,
        tool_call_id: "c2",
        name: "write_file",
        content: "User rejected the tool call",
        status: "error",
      },
      { type: "message", ns: main, message_id: "m2", content: "Cleaned." },
      { type: "done", thread_id: "t1", status: "success" },
    ];
    const view = reduce(
      next.map((payload, i): StreamAction => ({
        type: "event",
        id: String(i + 1),
        event: { run_id: RUN2, ...payload },
      })),
      resumed,
    );
    expect(view.phase).toBe("success");
    expect(view.runId).toBe(RUN2);
    expect(view.tools.c1).toMatchObject({ state: "success", args: { command: "rm -rf build/tmp" }, result: "ok" });
    expect(view.tools.c2?.state).toBe("error");
    // one ordered list: the first run's text and calls, then the continuation's answer
    expect(view.scopes[""]?.map((item) => (item.kind === "tool" ? item.id : view.texts[item.key]?.text))).toEqual([
      "I will clean up.",
      "c1",
      "c2",
      "Cleaned.",
    ]);
  });

  it("resumes from scratch when this tab did not see the pause (after a reload)", () => {
    const resumed = streamReducer(initialRunView, { type: "resume" });
    expect(resumed).toEqual({ ...initialRunView, phase: "starting" });
  });

  it("ignores anything after done and events of another run", () => {
    const done = reduce(frames(scenario));
    const late = streamReducer(done, {
      type: "event",
      id: "999",
      event: { run_id: RUN, type: "message", ns: [], message_id: "m9", content: "late" },
    });
    expect(late).toBe(done);
    const running = reduce(frames(scenario.slice(0, 3)));
    const other = streamReducer(running, {
      type: "event",
      id: "50",
      event: { run_id: "run-2", type: "message", ns: [], message_id: "m1", content: "x" },
    });
    expect(other).toBe(running);
  });

  it("joins text without a message id to the scope's last anonymous text", () => {
    const view = reduce(
      frames([
        { type: "message", ns: main, message_id: "", content: "a" },
        { type: "message", ns: main, message_id: "", content: "b" },
        { type: "tool_call", ns: main, tool_call_id: "c1", name: "ls", args: {} },
        { type: "message", ns: main, message_id: "", content: "c" },
      ]),
    );
    expect(Object.values(view.texts).map((t) => t.text)).toEqual(["ab", "c"]);
  });

  it("starts optimistic on send, then adopts the run", () => {
    const sent = streamReducer(initialRunView, { type: "send", text: "hello" });
    expect(sent).toMatchObject({ phase: "starting", userText: "hello", runId: null });
    const started = reduce(frames(scenario.slice(0, 1)), sent);
    expect(started).toMatchObject({ phase: "running", userText: "hello", runId: RUN, threadId: "t1" });
    expect(streamReducer(started, { type: "reset" })).toBe(initialRunView);
  });

  it("survives a JSON round trip (sessionStorage snapshots)", () => {
    const partial = reduce(frames(scenario.slice(0, 12)));
    const restored = streamReducer(initialRunView, {
      type: "restore",
      view: JSON.parse(JSON.stringify(partial)) as RunView,
    });
    expect(reduce(frames(scenario).slice(10), restored)).toEqual(reduce(frames(scenario)));
  });
});
