import { useState } from "react";
import { errorMessage } from "../../api";
import { useToast } from "../../components/toast-context";
import { navigate, threadPath } from "../../lib/router";
import { useCreateThread } from "../threads/use-threads";
import { ChatHeader } from "./chat-header";
import { Composer } from "./composer";
import { NEW_THREAD_DRAFT, useDraft } from "./drafts";
import { EmptyState } from "./empty-state";
import { setPendingMessage } from "./pending-message";

/** The home screen: what Warren can do, and a composer that starts a new conversation. */
export function NewChat({ onOpenSidebar }: { onOpenSidebar: () => void }) {
  const [draft, setDraft] = useDraft(NEW_THREAD_DRAFT);
  const create = useCreateThread();
  const toast = useToast();
  const [sending, setSending] = useState(false);

  const send = async () => {
    const text = draft;
    setSending(true);
    try {
      const thread = await create.mutateAsync(undefined);
      setPendingMessage(thread.id, text); // the thread's view starts the run
      setDraft("");
      navigate(threadPath(thread.id));
    } catch (error) {
      toast({ tone: "error", title: "Could not start a conversation", detail: errorMessage(error) });
      setSending(false);
    }
  };

  return (
    <div className="flex h-full min-h-0 flex-col">
      <ChatHeader thread={undefined} onOpenSidebar={onOpenSidebar} />
      <div className="scrollbar-thin min-h-0 flex-1 overflow-y-auto">
        <EmptyState onExample={setDraft} />
      </div>
      <div className="mx-auto w-full max-w-3xl px-3 pt-2 pb-3 sm:px-4 sm:pb-4">
        <Composer
          value={draft}
          onChange={setDraft}
          onSend={() => void send()}
          onStop={() => undefined}
          live={false}
          disabled={sending}
          autoFocus
        />
        <p className="mt-2 text-center text-xs text-zinc-400">Warren can make mistakes. Check important results.</p>
      </div>
    </div>
  );
}
