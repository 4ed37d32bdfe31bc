import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/errors";
import type { RunEvent, RunList } from "../../api/types";
import { followRun, parseRunEvent, type FollowOptions } from "./run-follower";
import { initialRunView, streamReducer, type RunView } from "./stream-reducer";

const encoder = new TextEncoder();
const RUN = "run-1";

type Payload = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, "run_id"> : never) : never;

function frame(id: number, event: Payload): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify({ run_id: RUN, ...event })}\n\n`;
}

/** A response whose body sends `text`, then either ends or fails like a dropped connection. */
function sse(text: string, ending: "close" | "drop" = "close"): Response {
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(encoder.encode(text));
      } else if (ending === "close") {
        controller.close();
      } else {
        controller.error(new TypeError("network error"));
      }
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

const msg = (content: string) => ({ type: "message" as const, ns: [], message_id: "m1", content });
const done = { type: "done" as const, thread_id: "t1", status: "success" as const };

function harness(api: FollowOptions["api"], response?: Response, runId: string | null = null) {
  let view: RunView = initialRunView;
  const states: string[] = [];
  const promise = followRun({
    api,
    threadId: "t1",
    runId,
    lastEventId: null,
    response,
    signal: new AbortController().signal,
    onEvent: (id, event) => {
      view = streamReducer(view, { type: "event", id, event });
    },
    onConnection: (state) => states.push(state),
    backoff: () => 0,
  });
  return { promise, view: () => view, states };
}

describe("followRun", () => {
  it("resumes after a drop with Last-Event-ID, without duplicating replayed events", async () => {
    const joinStream = vi.fn(async () => sse(frame(3, msg("c")) + frame(4, msg("d")) + frame(5, done)));
    const list = vi.fn();
    const first = sse(
      frame(1, { type: "run_started", thread_id: "t1" }) + frame(2, msg("a")) + frame(3, msg("c")),
      "drop",
    );
    const run = harness({ joinStream, list }, first);
    await expect(run.promise).resolves.toBe("done");
    expect(joinStream).toHaveBeenCalledTimes(1);
    expect(joinStream).toHaveBeenCalledWith("t1", RUN, "3", expect.any(AbortSignal));
    expect(list).not.toHaveBeenCalled();
    expect(Object.values(run.view().texts)[0]?.text).toBe("acd");
    expect(run.view().phase).toBe("success");
    expect(run.states).toEqual(["streaming", "reconnecting", "reconnecting", "streaming"]);
  });

  it("reconnects when the stream closes before done", async () => {
    const joinStream = vi.fn(async () => sse(frame(2, done)));
    const run = harness({ joinStream, list: vi.fn() }, sse(frame(1, msg("x"))));
    await expect(run.promise).resolves.toBe("done");
    expect(joinStream).toHaveBeenCalledWith("t1", RUN, "1", expect.any(AbortSignal));
  });

  it("finds the run to follow when the stream broke before its first event", async () => {
    const list = vi.fn(async (): Promise<RunList> => ({
      data: [{ run_id: RUN } as RunList["data"][number]],
      count: 1,
    }));
    const joinStream = vi.fn(async () => sse(frame(1, msg("hi")) + frame(2, done)));
    const run = harness({ joinStream, list }, sse("", "drop"));
    await expect(run.promise).resolves.toBe("done");
    expect(joinStream).toHaveBeenCalledWith("t1", RUN, null, expect.any(AbortSignal));
  });

  it("retries network errors, and gives up on errors retrying cannot fix", async () => {
    const joinStream = vi
      .fn()
      .mockRejectedValueOnce(ApiError.network(new TypeError("offline")))
      .mockRejectedValueOnce(new ApiError(503, "unavailable", "starting"))
      .mockRejectedValueOnce(new ApiError(410, "events_expired", "gone"));
    const run = harness({ joinStream, list: vi.fn() }, undefined, RUN);
    const outcome = await run.promise;
    expect(outcome).toEqual({ gone: expect.objectContaining({ status: 410 }) });
    expect(joinStream).toHaveBeenCalledTimes(3);
  });

  it("stops quietly when aborted", async () => {
    const controller = new AbortController();
    const joinStream = vi.fn(async () => {
      controller.abort();
      throw new DOMException("aborted", "AbortError");
    });
    const outcome = await followRun({
      api: { joinStream, list: vi.fn() },
      threadId: "t1",
      runId: RUN,
      lastEventId: "7",
      signal: controller.signal,
      onEvent: vi.fn(),
      onConnection: vi.fn(),
    });
    expect(outcome).toBe("aborted");
  });
});

describe("a silent connection", () => {
  it("reconnects with Last-Event-ID when nothing, not even a ping, arrives for too long", async () => {
    const encoder = new TextEncoder();
    const silentAfterOne = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode('id: 1\nevent: run_started\ndata: {"run_id":"r","thread_id":"t"}\n\n'));
        },
      }),
    );
    const rest = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(
            encoder.encode('id: 2\nevent: done\ndata: {"run_id":"r","thread_id":"t","status":"success"}\n\n'),
          );
          controller.close();
        },
      }),
    );
    const joinStream = vi.fn().mockResolvedValue(rest);
    const seen: string[] = [];
    const outcome = await followRun({
      api: { joinStream, list: vi.fn() },
      threadId: "t",
      runId: null,
      lastEventId: null,
      response: silentAfterOne,
      signal: new AbortController().signal,
      onEvent: (id) => seen.push(id ?? ""),
      onConnection: () => undefined,
      backoff: () => 0,
      idleMs: 50,
    });
    expect(outcome).toBe("done");
    expect(joinStream).toHaveBeenCalledWith("t", "r", "1", expect.anything());
    expect(seen).toEqual(["1", "2"]);
  });
});

describe("parseRunEvent", () => {
  it("skips unknown event types and broken JSON", () => {
    expect(parseRunEvent("future_event", '{"run_id":"r"}')).toBeNull();
    expect(parseRunEvent("message", "{not json")).toBeNull();
    expect(parseRunEvent("message", '{"content":"no run id"}')).toBeNull();
    expect(parseRunEvent("usage", '{"run_id":"r","type":"usage","input_tokens":1,"output_tokens":2}')).toEqual({
      run_id: "r",
      type: "usage",
      input_tokens: 1,
      output_tokens: 2,
    });
  });
});
