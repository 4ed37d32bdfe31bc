import { ArrowDown } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { ApiError, errorMessage } from "../../api";
import { Button } from "../../components/button";
import { Spinner } from "../../components/spinner";
import { useToast } from "../../components/toast-context";
import { navigate } from "../../lib/router";
import { useStickToBottom } from "../../lib/use-stick-to-bottom";
import { FilesPanel } from "../files/files-panel";
import { useThread } from "../threads/use-threads";
import { ChatHeader } from "./chat-header";
import { Composer } from "./composer";
import { Conversation } from "./conversation";
import { loadDraft, useDraft } from "./drafts";
import { EmptyState } from "./empty-state";
import { RunStatusLine } from "./run-status-line";
import { TodoPanel } from "./todo-panel";
import { useThreadStream } from "./use-thread-stream";

/** One conversation: history, the live run, the plan, the composer and the files panel. */
export function ChatView({ threadId, onOpenSidebar }: { threadId: string; onOpenSidebar: () => void }) {
  const stream = useThreadStream(threadId);
  const thread = useThread(threadId);
  const [draft, setDraft] = useDraft(threadId);
  const [filesOpen, setFilesOpen] = useState(false);
  const toast = useToast();
  const scrollRef = useRef<HTMLDivElement>(null);
  const contentRef = useRef<HTMLDivElement>(null);
  const { pinned, scrollToBottom } = useStickToBottom(scrollRef, contentRef);
  const { view, history } = stream;

  // a failed run says why, once
  const error = view.error;
  useEffect(() => {
    if (error) toast({ tone: "error", title: "The run failed", detail: error.detail });
  }, [error, toast]);

  // Esc stops the run from anywhere on the page (unless a dialog or a field used the key)
  const { live, stop } = stream;
  useEffect(() => {
    if (!live) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented || document.querySelector("dialog[open]")) return;
      if (event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]")) return;
      void stop();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [live, stop]);

  const send = async () => {
    const text = draft;
    setDraft("");
    scrollToBottom();
    try {
      await stream.send(text);
    } catch (caught) {
      if (!loadDraft(threadId)) setDraft(text); // give the text back
      const busy = caught instanceof ApiError && caught.status === 409;
      toast({
        tone: "error",
        title: busy ? "Warren is still working here" : "Your message was not sent",
        detail: busy ? "Wait for the current task to finish, or stop it." : errorMessage(caught),
      });
    }
  };

  const missing =
    (thread.error instanceof ApiError && thread.error.status === 404) ||
    (history.error instanceof ApiError && history.error.status === 404);
  if (missing) {
    return (
      <div className="flex h-full flex-col">
        <ChatHeader thread={undefined} onOpenSidebar={onOpenSidebar} />
        <div className="flex flex-1 flex-col items-center justify-center gap-3 p-6 text-center">
          <p className="text-lg font-medium">This conversation does not exist</p>
          <p className="text-sm text-zinc-500">It may have been deleted.</p>
          <Button variant="primary" onClick={() => navigate("/")}>
            Start a new conversation
          </Button>
        </div>
      </div>
    );
  }

  const todos = view.todos ?? history.data?.todos ?? [];
  const empty = history.data?.messages.length === 0 && view.phase === "idle";

  return (
    <div className="flex h-full min-h-0">
      <div className="flex min-w-0 flex-1 flex-col">
        <ChatHeader
          thread={thread.data}
          onOpenSidebar={onOpenSidebar}
          filesOpen={filesOpen}
          onToggleFiles={() => setFilesOpen(!filesOpen)}
        />
        <div ref={scrollRef} className="scrollbar-thin relative min-h-0 flex-1 overflow-y-auto">
          <div ref={contentRef} className="mx-auto flex w-full max-w-3xl flex-col gap-5 px-4 py-6" aria-live="off">
            {history.isPending ? (
              <div className="flex justify-center py-16 text-zinc-400">
                <Spinner className="size-6" label="Loading the conversation" />
              </div>
            ) : history.isError ? (
              <div className="flex flex-col items-center gap-2 py-16 text-center text-sm text-zinc-500">
                <p>{errorMessage(history.error)}</p>
                <Button size="sm" onClick={() => void history.refetch()}>
                  Try again
                </Button>
              </div>
            ) : empty ? (
              <EmptyState onExample={setDraft} />
            ) : (
              <Conversation
                state={history.data}
                view={view}
                latestRun={stream.latestRun}
                onResume={async (decisions) => {
                  scrollToBottom();
                  await stream.resume(decisions);
                }}
              />
            )}
          </div>
        </div>
        <div className="relative mx-auto flex w-full max-w-3xl flex-col gap-2 px-3 pt-2 pb-3 sm:px-4 sm:pb-4">
          {!pinned && (
            <button
              type="button"
              onClick={() => scrollToBottom(true)}
              className="absolute -top-10 left-1/2 flex -translate-x-1/2 items-center gap-1 rounded-full border border-zinc-200 bg-white px-3 py-1 text-xs font-medium shadow-md dark:border-zinc-700 dark:bg-zinc-900"
            >
              <ArrowDown className="size-3.5" aria-hidden /> Latest
            </button>
          )}
          <TodoPanel todos={todos} live={stream.live} />
          <RunStatusLine view={view} connection={stream.connection} />
          <Composer
            value={draft}
            onChange={setDraft}
            onSend={() => void send()}
            onStop={() => void stream.stop()}
            live={stream.live}
            stopping={stream.stopping}
            autoFocus
          />
        </div>
      </div>
      {filesOpen && <FilesPanel threadId={threadId} onClose={() => setFilesOpen(false)} />}
    </div>
  );
}
