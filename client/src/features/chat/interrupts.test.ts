import { describe, expect, it } from "vitest";
import type { ActionRequest, PendingInterrupt, ReviewConfig } from "../../api/types";
import {
  allActions,
  buildResume,
  draftFor,
  parseArgs,
  pendingReviews,
  reviewActions,
  reviewsFromEvents,
  reviewsFromState,
  subagentTypes,
  type ReviewAction,
} from "./interrupts";
import { initialRunView, streamReducer, type RunView } from "./stream-reducer";

const batch: { action_requests: ActionRequest[]; review_configs: ReviewConfig[] } = {
  action_requests: [
    {
      name: "execute",
      args: { command: "rm -rf build" },
      description: "Deletes the build folder",
      tool_call_id: "c1",
    },
    { name: "write_file", args: { file_path: "/a.md", content: "x" }, description: "", tool_call_id: "c2" },
  ],
  review_configs: [
    { action_name: "execute", allowed_decisions: ["approve", "reject"] },
    { action_name: "write_file", allowed_decisions: ["respond", "edit", "approve", "reject"] },
  ],
};

function action(overrides: Partial<ReviewAction> = {}): ReviewAction {
  return {
    name: "write_file",
    args: { file_path: "/a.md", content: "x" },
    description: null,
    toolCallId: "c2",
    allowed: ["approve", "edit", "reject", "respond"],
    ...overrides,
  };
}

describe("reviewActions", () => {
  it("pairs each action request with its review config, in a stable decision order", () => {
    expect(reviewActions(batch)).toEqual([
      {
        name: "execute",
        args: { command: "rm -rf build" },
        description: "Deletes the build folder",
        toolCallId: "c1",
        allowed: ["approve", "reject"],
      },
      action(),
    ]);
  });

  it("finds a config by name when the lists do not line up, else offers the defaults", () => {
    const actions = reviewActions({
      action_requests: [
        { name: "ls", args: {} },
        { name: "execute", args: { command: "ls" } },
      ],
      review_configs: [{ action_name: "execute", allowed_decisions: ["reject", "bogus"] }],
    });
    expect(actions.map((a) => a.allowed)).toEqual([["approve", "edit", "reject"], ["reject"]]);
  });

  it("drops the arguments a default description repeats", () => {
    const [described] = reviewActions({
      action_requests: [
        {
          name: "execute",
          args: { command: "ls" },
          description: 'Tool execution requires approval\n\nTool: execute\nArgs: {"command": "ls"}',
        },
      ],
      review_configs: [],
    });
    expect(described?.description).toBeNull(); // the generic line says nothing the card does not
    const [custom] = reviewActions({
      action_requests: [{ name: "execute", args: {}, description: "Runs in your sandbox\n\nTool: execute\nArgs: {}" }],
    });
    expect(custom?.description).toBe("Runs in your sandbox");
    expect(reviewActions({ action_requests: [{ name: "ls", args: {}, description: "  " }] })[0]?.description).toBe(
      null,
    );
  });

  it("reads a single tool approval, and ignores values that ask nothing", () => {
    expect(
      reviewActions({ type: "tool_approval", tool_call_id: "c9", name: "execute", args: { command: "ls" } }),
    ).toMatchObject([{ name: "execute", toolCallId: "c9", args: { command: "ls" } }]);
    expect(reviewActions(null)).toEqual([]);
    expect(reviewActions("please approve")).toEqual([]);
    expect(reviewActions({ action_requests: [{ args: {} }, 42] })).toEqual([]);
  });
});

describe("pending reviews", () => {
  it("come from the thread state, in either shape the server may use", () => {
    const none = { ns: [], action_requests: [], review_configs: [] };
    const interrupts: PendingInterrupt[] = [
      { id: "i1", value: {}, ns: [], ...batch },
      // a pause the server did not read as a tool review: its raw value
      { id: "i2", value: { action_requests: [{ name: "ls", args: { path: "/" } }], review_configs: [] }, ...none },
      { id: "i3", value: { something: "else" }, ...none },
    ];
    const reviews = reviewsFromState(interrupts);
    expect(reviews.map((r) => r.key)).toEqual(["i1", "i2"]);
    expect(allActions(reviews).map((a) => a.name)).toEqual(["execute", "write_file", "ls"]);
  });

  it("come from a run's interrupt events", () => {
    const reviews = reviewsFromEvents([
      { interruptId: "i7", ns: ["t1"], actionRequests: batch.action_requests, reviewConfigs: batch.review_configs },
    ]);
    expect(reviews.map((r) => [r.key, r.ns])).toEqual([["i7", ["t1"]]]);
    expect(reviews[0]?.actions[0]?.allowed).toEqual(["approve", "reject"]);
  });

  it("follow the run this tab saw pause, else the saved state, and nothing while a run is live", () => {
    const state = { interrupts: [{ id: "saved", value: {}, ns: [], ...batch }] };
    expect(pendingReviews(initialRunView, state).map((r) => r.key)).toEqual(["saved"]);

    const frames = (view: RunView, events: Parameters<typeof streamReducer>[1][]) => events.reduce(streamReducer, view);
    const live = frames(initialRunView, [
      { type: "event", id: "1", event: { run_id: "r", type: "run_started", thread_id: "t" } },
    ]);
    expect(pendingReviews(live, state)).toEqual([]);

    const paused = frames(live, [
      { type: "event", id: "2", event: { run_id: "r", type: "interrupt", interrupt_id: "i1", ns: [], ...batch } },
      { type: "event", id: "3", event: { run_id: "r", type: "done", thread_id: "t", status: "interrupted" } },
    ]);
    // the state has not caught up yet: the events decide
    expect(allActions(pendingReviews(paused, { interrupts: [] }))).toHaveLength(2);

    // a run that finished otherwise: the state is being refetched and may still list the old pause
    const finished = frames(live, [
      { type: "event", id: "2", event: { run_id: "r", type: "done", thread_id: "t", status: "success" } },
    ]);
    expect(pendingReviews(finished, state)).toEqual([]);
  });
});

describe("subagentTypes", () => {
  it("names the subagent of each task call, from the history and the live run", () => {
    const types = subagentTypes(
      [
        {
          id: "a1",
          role: "assistant",
          content: "",
          tool_calls: [
            { id: "t1", name: "task", args: { subagent_type: "researcher", description: "dig" } },
            { id: "x", name: "ls", args: { subagent_type: "not a task" } },
          ],
        },
      ],
      {
        t2: { name: "task", args: null, subagent: { type: "writer", description: "", status: "running" } },
      },
    );
    expect([...types]).toEqual([
      ["t1", "researcher"],
      ["t2", "writer"],
    ]);
  });
});

describe("decisions", () => {
  it("builds one decision per action, in order", () => {
    const actions = reviewActions(batch);
    const built = buildResume(actions, [
      { type: "reject", message: "  not that folder  " },
      { type: "edit", argsText: '{"file_path": "/b.md", "content": "y"}' },
    ]);
    expect(built).toEqual({
      resume: {
        decisions: [
          { type: "reject", message: "not that folder" },
          { type: "edit", edited_action: { name: "write_file", args: { file_path: "/b.md", content: "y" } } },
        ],
      },
    });
    expect(buildResume(actions, [{ type: "approve" }, { type: "respond", message: "Saved." }])).toEqual({
      resume: { decisions: [{ type: "approve" }, { type: "respond", message: "Saved." }] },
    });
    // a reason is optional when rejecting
    expect(buildResume([action()], [{ type: "reject", message: " " }])).toEqual({
      resume: { decisions: [{ type: "reject" }] },
    });
  });

  it("says which action is not ready, and why", () => {
    const actions = reviewActions(batch);
    expect(buildResume(actions, [{ type: "approve" }, null])).toEqual({
      error: "Choose what to do with write_file.",
      index: 1,
    });
    expect(buildResume(actions, [{ type: "edit", argsText: "{}" }, { type: "approve" }])).toMatchObject({
      index: 0,
      error: expect.stringContaining("not allowed") as unknown,
    });
    expect(buildResume([action()], [{ type: "edit", argsText: '{"file_path": ' }])).toMatchObject({
      index: 0,
      error: expect.stringContaining("not valid JSON") as unknown,
    });
    expect(buildResume([action()], [{ type: "edit", argsText: "[1, 2]" }])).toMatchObject({
      error: expect.stringContaining("must be a JSON object") as unknown,
    });
    expect(buildResume([action()], [{ type: "respond", message: "" }])).toMatchObject({
      error: expect.stringContaining("Write the reply") as unknown,
    });
  });

  it("starts an edit from the requested arguments", () => {
    const draft = draftFor("edit", action());
    expect(draft.type === "edit" && parseArgs(draft.argsText)).toEqual({ args: { file_path: "/a.md", content: "x" } });
    expect(draftFor("reject", action())).toEqual({ type: "reject", message: "" });
  });
});
