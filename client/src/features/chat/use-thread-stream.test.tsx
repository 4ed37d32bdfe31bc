// @vitest-environment happy-dom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, expect, it, vi } from "vitest";
import { api } from "../../api";
import { ToastContext } from "../../components/toast-context";
import { useThreadStream } from "./use-thread-stream";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

it("releases the stream a message started when the user leaves the thread", async () => {
  const signals: AbortSignal[] = [];
  vi.spyOn(api.threads, "state").mockResolvedValue({
    thread_id: "A",
    messages: [],
    todos: [],
    interrupts: [],
    status: "idle",
  });
  vi.spyOn(api.runs, "list").mockResolvedValue({ data: [], count: 0 });
  const cancel = vi.spyOn(api.runs, "cancel");
  vi.spyOn(api.runs, "startStream").mockImplementation((_thread, _body, signal) => {
    signals.push(signal ?? new AbortController().signal);
    // a long run: the stream never ends by itself
    const body = new ReadableStream<Uint8Array>();
    return Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } }));
  });
  const client = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <ToastContext.Provider value={() => undefined}>{children}</ToastContext.Provider>
    </QueryClientProvider>
  );
  const { result, unmount } = renderHook(() => useThreadStream("A"), { wrapper });
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
  await act(async () => {
    await result.current.send("hello");
  });
  expect(signals).toHaveLength(1);
  expect(signals[0]?.aborted).toBe(false);
  unmount(); // switching to another thread
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
  expect(signals[0]?.aborted).toBe(true); // the connection is released ...
  expect(cancel).not.toHaveBeenCalled(); // ... and the run on the server goes on
});

function sse(events: { id: string; event: Record<string, unknown> }[]): Response {
  const text = events
    .map(({ id, event }) => `id: ${id}\nevent: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`)
    .join("");
  return new Response(text, { headers: { "content-type": "text/event-stream" } });
}

it("answers a pause after a reload: the decisions start a run whose events stream into the view", async () => {
  const pending = {
    id: "i1",
    value: {},
    ns: [],
    action_requests: [{ name: "write_file", args: { file_path: "/a.md" }, description: "", tool_call_id: "c1" }],
    review_configs: [{ action_name: "write_file", allowed_decisions: ["approve" as const, "reject" as const] }],
  };
  const state = vi.spyOn(api.threads, "state").mockResolvedValue({
    thread_id: "A",
    messages: [
      { id: "u1", role: "user", content: "write it" },
      { id: "a1", role: "assistant", content: "", tool_calls: [{ id: "c1", name: "write_file", args: {} }] },
    ],
    todos: [],
    interrupts: [pending],
    status: "interrupted",
  });
  vi.spyOn(api.runs, "list").mockResolvedValue({ data: [], count: 0 });
  const bodies: unknown[] = [];
  vi.spyOn(api.runs, "startStream").mockImplementation((_thread, body) => {
    bodies.push(body);
    return Promise.resolve(
      sse([
        { id: "1", event: { type: "run_started", run_id: "r2", thread_id: "A" } },
        {
          id: "2",
          event: { type: "tool_call", run_id: "r2", ns: [], tool_call_id: "c1", name: "write_file", args: {} },
        },
        {
          id: "3",
          event: {
            type: "tool_result",
            run_id: "r2",
            ns: [],
            tool_call_id: "c1",
            name: "write_file",
            content: "ok",
            status: "success",
          },
        },
        { id: "4", event: { type: "done", run_id: "r2", thread_id: "A", status: "success" } },
      ]),
    );
  });
  const client = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={client}>
      <ToastContext.Provider value={() => undefined}>{children}</ToastContext.Provider>
    </QueryClientProvider>
  );
  const { result } = renderHook(() => useThreadStream("A"), { wrapper });
  await act(async () => {
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
  expect(result.current.history.data?.interrupts).toEqual([pending]);
  const loads = state.mock.calls.length;
  await act(async () => {
    await result.current.resume([{ type: "approve" }]);
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
  expect(bodies).toEqual([{ resume: { decisions: [{ type: "approve" }] } }]);
  expect(result.current.view.phase).toBe("success");
  expect(result.current.view.tools.c1).toMatchObject({ state: "success", result: "ok" });
  expect(state.mock.calls.length).toBeGreaterThan(loads); // the state is refetched after the run
});
