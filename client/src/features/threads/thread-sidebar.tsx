import { KeyRound, LogOut, Search, SquarePen } from "lucide-react";
import { useDeferredValue, useState } from "react";
import { errorMessage } from "../../api";
import type { ThreadPublic } from "../../api/types";
import { Button, IconButton } from "../../components/button";
import { ConfirmDialog } from "../../components/confirm-dialog";
import { Logo } from "../../components/logo";
import { Spinner } from "../../components/spinner";
import { ThemeToggle } from "../../components/theme-toggle";
import { useToast } from "../../components/toast-context";
import { navigate } from "../../lib/router";
import { useAuth } from "../auth/auth-context";
import { ThreadItem } from "./thread-item";
import { threadTitle } from "./thread-title";
import { useDeleteThread, useRenameThread, useThreadList } from "./use-threads";

interface ThreadSidebarProps {
  activeThreadId: string | null;
  /** Called after navigating (closes the drawer on phones). */
  onNavigate: () => void;
}

export function ThreadSidebar({ activeThreadId, onNavigate }: ThreadSidebarProps) {
  const { user, logout } = useAuth();
  const toast = useToast();
  const [search, setSearch] = useState("");
  const q = useDeferredValue(search.trim());
  const list = useThreadList(q);
  const rename = useRenameThread();
  const remove = useDeleteThread();
  const [deleting, setDeleting] = useState<ThreadPublic | null>(null);
  const threads = list.data?.pages.flatMap((page) => page.data) ?? [];

  const go = (path: string) => {
    navigate(path);
    onNavigate();
  };

  const confirmDelete = () => {
    if (!deleting) return;
    const target = deleting;
    remove.mutate(target.id, {
      onSuccess: () => {
        setDeleting(null);
        if (target.id === activeThreadId) go("/");
      },
      onError: (error) => {
        setDeleting(null);
        toast({ tone: "error", title: "Could not delete the conversation", detail: errorMessage(error) });
      },
    });
  };

  return (
    <nav aria-label="Conversations" className="flex h-full min-h-0 flex-col">
      <div className="flex items-center gap-2 px-3 pt-3 pb-2">
        <a
          href="/"
          onClick={(event) => {
            event.preventDefault();
            go("/");
          }}
          className="flex min-w-0 flex-1 items-center gap-2 rounded-md"
        >
          <Logo className="size-7" />
          <span className="text-[15px] font-semibold tracking-tight">Warren</span>
        </a>
        <IconButton label="New conversation" onClick={() => go("/")}>
          <SquarePen className="size-4" />
        </IconButton>
      </div>

      <div className="px-3 pb-2">
        <label className="relative block">
          <span className="sr-only">Search conversations by title</span>
          <Search
            className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-zinc-400"
            aria-hidden
          />
          <input
            type="search"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
            placeholder="Search titles"
            maxLength={200}
            className="h-9 w-full rounded-lg border border-zinc-200 bg-white pr-3 pl-8 text-sm placeholder:text-zinc-400 focus:border-accent-500 focus:ring-2 focus:ring-accent-500/20 focus:outline-none dark:border-zinc-800 dark:bg-zinc-900"
          />
        </label>
      </div>

      <div className="scrollbar-thin min-h-0 flex-1 overflow-y-auto px-2 pb-2">
        {list.isPending ? (
          <div className="flex justify-center py-8 text-zinc-400">
            <Spinner label="Loading conversations" />
          </div>
        ) : list.isError ? (
          <div className="px-2 py-6 text-center text-sm text-zinc-500">
            <p>{errorMessage(list.error)}</p>
            <Button size="sm" className="mt-2" onClick={() => void list.refetch()}>
              Try again
            </Button>
          </div>
        ) : threads.length === 0 ? (
          <p className="px-3 py-6 text-center text-sm text-zinc-500">
            {q ? `No conversation titled “${q}”.` : "No conversations yet. Ask Warren something to start one."}
          </p>
        ) : (
          <ul className="flex flex-col gap-0.5" aria-busy={list.isFetching || undefined}>
            {threads.map((thread) => (
              <ThreadItem
                key={thread.id}
                thread={thread}
                active={thread.id === activeThreadId}
                onOpen={onNavigate}
                onRename={(title) =>
                  rename.mutate(
                    { id: thread.id, title },
                    {
                      onError: (error) =>
                        toast({ tone: "error", title: "Could not rename", detail: errorMessage(error) }),
                    },
                  )
                }
                onDelete={() => setDeleting(thread)}
              />
            ))}
          </ul>
        )}
        {list.hasNextPage && (
          <div className="flex justify-center py-2">
            <Button size="sm" variant="ghost" busy={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
              Show older
            </Button>
          </div>
        )}
      </div>

      <div className="flex items-center gap-1 border-t border-zinc-200 px-3 py-2 dark:border-zinc-800">
        <div className="flex min-w-0 flex-1 items-center gap-2">
          <span
            className="flex size-7 shrink-0 items-center justify-center rounded-full bg-zinc-200 text-xs font-semibold uppercase dark:bg-zinc-800"
            aria-hidden
          >
            {user?.username.slice(0, 1)}
          </span>
          <span className="truncate text-sm font-medium" title={user?.username}>
            {user?.username}
          </span>
        </div>
        <ThemeToggle />
        <IconButton label="Settings: API keys and skills" onClick={() => go("/settings")}>
          <KeyRound className="size-4" />
        </IconButton>
        <IconButton label="Sign out" onClick={() => void logout()}>
          <LogOut className="size-4" />
        </IconButton>
      </div>

      <ConfirmDialog
        open={deleting !== null}
        title="Delete this conversation?"
        description={
          <>
            “{deleting ? threadTitle(deleting) : ""}” will be deleted with its files and history. A running task is
            stopped. This cannot be undone.
          </>
        }
        confirmLabel="Delete"
        busy={remove.isPending}
        onConfirm={confirmDelete}
        onClose={() => setDeleting(null)}
      />
    </nav>
  );
}
