/**
 * `useThreadStream(threadId)`: the one owner of a thread's streaming state.
 *
 * - loads the conversation (`GET /state`) and the latest run;
 * - sends a message (`POST /runs/stream`) and follows the SSE with fetch (bearer header);
 * - answers a run paused for approval (`resume` decisions): the continuation is a new run,
 *   streamed into the same view, where the calls that waited then run;
 * - after a network drop, resumes with `Last-Event-ID` (backoff); after a reload while a run
 *   is live, restores the sessionStorage snapshot and resumes, or joins from the start;
 * - unmounting (switching threads) aborts only the local fetch: the run goes on on the server;
 * - `stop()` cancels the run on the server; the stream then ends with `done{cancelled}`.
 */

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { api, ApiError, errorMessage } from "../../api";
import type { ResumeRequest, RunCreate, RunEvent, RunStatus } from "../../api/types";
import { useToast } from "../../components/toast-context";
import { keys } from "../../lib/query-client";
import { saveDraft } from "./drafts";
import { consumePendingMessage, peekPendingMessage } from "./pending-message";
import { followRun, type Connection, type FollowOutcome } from "./run-follower";
import { clearSnapshot, loadSnapshot, saveSnapshot } from "./run-snapshot";
import { initialRunView, isLive, streamReducer, type RunView } from "./stream-reducer";

const SNAPSHOT_EVERY_MS = 1000;
const LIVE: readonly RunStatus[] = ["pending", "running"];

export function useThreadStream(threadId: string) {
  const queryClient = useQueryClient();
  const toast = useToast();
  // A first message from the home screen shows at once (optimistic), before its run starts.
  const [view, dispatch] = useReducer(streamReducer, threadId, (id): RunView => {
    const pending = peekPendingMessage(id);
    return pending === null ? initialRunView : { ...initialRunView, phase: "starting", userText: pending };
  });
  const [connection, setConnection] = useState<Connection>("idle");
  const [stopping, setStopping] = useState(false);
  const controller = useRef<AbortController | null>(null);
  const viewRef = useRef(view);
  const cancelWanted = useRef(false);

  const history = useQuery({
    queryKey: keys.state(threadId),
    queryFn: ({ signal }) => api.threads.state(threadId, signal),
  });
  const runs = useQuery({
    queryKey: keys.runs(threadId),
    queryFn: ({ signal }) => api.runs.list(threadId, 1, signal),
  });

  const refreshAfterRun = useCallback(() => {
    void queryClient.invalidateQueries({ queryKey: keys.state(threadId) });
    void queryClient.invalidateQueries({ queryKey: keys.runs(threadId) });
    void queryClient.invalidateQueries({ queryKey: keys.threads });
    void queryClient.invalidateQueries({ queryKey: keys.filesOf(threadId) });
  }, [queryClient, threadId]);

  const onEvent = useCallback(
    (id: string | null, event: RunEvent) => {
      dispatch({ type: "event", id, event });
      if (event.type === "run_started") {
        void queryClient.invalidateQueries({ queryKey: keys.threads });
        if (cancelWanted.current) {
          cancelWanted.current = false;
          api.runs.cancel(threadId, event.run_id).catch(() => undefined);
        }
      } else if (event.type === "sandbox" && event.status === "ready") {
        void queryClient.invalidateQueries({ queryKey: keys.filesOf(threadId) });
      } else if (event.type === "done") {
        clearSnapshot(threadId);
        setStopping(false);
        refreshAfterRun();
      }
    },
    [queryClient, refreshAfterRun, threadId],
  );

  const follow = useCallback(
    async (signal: AbortSignal, runId: string | null, lastEventId: string | null, response?: Response) => {
      const outcome: FollowOutcome = await followRun({
        api: api.runs,
        threadId,
        runId,
        lastEventId,
        response,
        signal,
        onEvent,
        onConnection: setConnection,
      });
      if (signal.aborted) return;
      setConnection("idle");
      if (typeof outcome === "object") {
        // the stream cannot be resumed: show what the server has
        clearSnapshot(threadId);
        setStopping(false);
        refreshAfterRun();
        if (outcome.gone && outcome.gone.status !== 401) {
          toast({ tone: "error", title: "Lost the live view of this run", detail: outcome.gone.detail });
        }
        dispatch({ type: "reset" });
      }
    },
    [onEvent, refreshAfterRun, threadId, toast],
  );

  /** Join the thread's newest run if it is still going (after a reload, or a failed start). */
  const joinIfLive = useCallback(
    async (signal: AbortSignal) => {
      let latest;
      try {
        latest = (await api.runs.list(threadId, 1, signal)).data[0];
      } catch {
        return;
      }
      if (signal.aborted) return;
      if (!latest || !LIVE.includes(latest.status)) {
        clearSnapshot(threadId);
        return;
      }
      const snapshot = loadSnapshot(threadId);
      if (snapshot?.runId === latest.run_id) {
        dispatch({ type: "restore", view: snapshot });
        await follow(signal, latest.run_id, snapshot.lastEventId);
      } else {
        await follow(signal, latest.run_id, null);
      }
    },
    [follow, threadId],
  );

  /**
   * Ask the server to start a run (the optimistic view is already shown); resolves once it
   * accepted, and the stream is then followed (`accepted` runs just before).
   */
  const launch = useCallback(
    async (signal: AbortSignal, body: RunCreate, accepted?: () => void) => {
      cancelWanted.current = false;
      // Leaving the thread must not abort the POST itself (the message would be lost or not,
      // depending on timing); only the stream that follows it is tied to `signal`.
      const request = new AbortController();
      let response: Response;
      try {
        response = await api.runs.startStream(threadId, body, request.signal);
      } catch (error) {
        if (signal.aborted) return;
        cancelWanted.current = false;
        setStopping(false);
        dispatch({ type: "reset" });
        // busy (another tab started a run) or the answer was lost on the way: follow what runs
        if (error instanceof ApiError && (error.status === 409 || error.status === 0)) void joinIfLive(signal);
        throw error;
      }
      accepted?.();
      void queryClient.invalidateQueries({ queryKey: keys.threads });
      if (signal.aborted) {
        request.abort(); // left the thread meanwhile: the run goes on, unwatched
        return;
      }
      signal.addEventListener("abort", () => request.abort(), { once: true });
      void follow(signal, null, null, response);
    },
    [follow, joinIfLive, queryClient, threadId],
  );

  // On mount: send the conversation's first message, or join a run that is still live.
  useEffect(() => {
    const own = new AbortController();
    controller.current = own;
    const pending = peekPendingMessage(threadId);
    if (pending !== null) {
      const first = pending;
      void (async () => {
        try {
          await launch(own.signal, { messages: [{ role: "user", content: first }] });
          if (!own.signal.aborted) consumePendingMessage(threadId);
        } catch (error) {
          consumePendingMessage(threadId);
          if (error instanceof ApiError && error.status === 409) return; // it did start
          saveDraft(threadId, first);
          toast({ tone: "error", title: "Your message was not sent", detail: errorMessage(error) });
        }
      })();
    } else {
      void (async () => {
        await joinIfLive(own.signal);
      })();
    }
    return () => {
      // never cancels the run on the server; `send()` may have replaced `own`
      own.abort();
      controller.current?.abort();
      controller.current = null;
    };
  }, [joinIfLive, launch, threadId, toast]);

  // Keep `viewRef` current, and snapshot a live run (throttled) for a reload.
  const lastSaved = useRef(0);
  useEffect(() => {
    viewRef.current = view;
    if (!view.runId || !view.lastEventId || !isLive(view.phase)) return;
    const wait = Math.max(0, lastSaved.current + SNAPSHOT_EVERY_MS - Date.now());
    const timer = setTimeout(() => {
      lastSaved.current = Date.now();
      saveSnapshot(threadId, view);
    }, wait);
    return () => clearTimeout(timer);
  }, [threadId, view]);

  useEffect(() => {
    const save = () => {
      const current = viewRef.current;
      if (current.runId && current.lastEventId && isLive(current.phase)) saveSnapshot(threadId, current);
    };
    window.addEventListener("pagehide", save);
    return () => window.removeEventListener("pagehide", save);
  }, [threadId]);

  const send = useCallback(
    async (text: string) => {
      if (isLive(viewRef.current.phase))
        throw new ApiError(409, "thread_busy", "Warren is still working on this conversation.");
      controller.current?.abort();
      const own = new AbortController();
      controller.current = own;
      dispatch({ type: "send", text });
      await launch(own.signal, { messages: [{ role: "user", content: text }] });
    },
    [launch],
  );

  /**
   * Continue a run paused for approval with one decision per pending action. Resolves once
   * the server accepted (the card stays, disabled, until then); rejects with its error.
   */
  const resume = useCallback(
    async (decisions: ResumeRequest["decisions"]) => {
      if (isLive(viewRef.current.phase))
        throw new ApiError(409, "thread_busy", "Warren is still working on this conversation.");
      controller.current?.abort();
      const own = new AbortController();
      controller.current = own;
      try {
        await launch(own.signal, { resume: { decisions } }, () => dispatch({ type: "resume" }));
      } catch (error) {
        refreshAfterRun(); // what is pending may have changed (answered in another tab)
        throw error;
      }
    },
    [launch, refreshAfterRun],
  );

  const stop = useCallback(async () => {
    const current = viewRef.current;
    if (!isLive(current.phase)) return;
    setStopping(true);
    if (!current.runId) {
      cancelWanted.current = true; // honoured as soon as the run's id arrives
      return;
    }
    try {
      await api.runs.cancel(threadId, current.runId);
    } catch (error) {
      setStopping(false);
      toast({ tone: "error", title: "Could not stop the run", detail: errorMessage(error) });
    }
  }, [threadId, toast]);

  return {
    view,
    connection,
    history,
    latestRun: runs.data?.data[0] ?? null,
    live: isLive(view.phase),
    stopping,
    send,
    resume,
    stop,
  };
}

export type ThreadStream = ReturnType<typeof useThreadStream>;
