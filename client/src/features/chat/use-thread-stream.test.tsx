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
