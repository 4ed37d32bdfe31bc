import { Check, Pencil, Trash2, X } from "lucide-react";
import { useState, type KeyboardEvent } from "react";
import type { ThreadPublic } from "../../api/types";
import { IconButton } from "../../components/button";
import { cn } from "../../lib/cn";
import { timeAgo } from "../../lib/format";
import { navigate, threadPath } from "../../lib/router";
import { StatusBadge } from "./status-badge";
import { threadTitle } from "./thread-title";

interface ThreadItemProps {
  thread: ThreadPublic;
  active: boolean;
  onRename: (title: string) => void;
  onDelete: () => void;
  onOpen: () => void;
}

export function ThreadItem({ thread, active, onRename, onDelete, onOpen }: ThreadItemProps) {
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(thread.title);

  const save = () => {
    const next = title.trim();
    setEditing(false);
    if (next && next !== thread.title) onRename(next);
  };
  const onKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") save();
    if (event.key === "Escape") setEditing(false);
  };

  if (editing) {
    return (
      <li className="flex items-center gap-1 rounded-lg bg-zinc-100 px-2 py-1.5 dark:bg-zinc-800">
        <input
          aria-label="Thread title"
          className="h-7 min-w-0 flex-1 rounded-md border border-zinc-300 bg-white px-2 text-sm focus:border-accent-500 focus:outline-none dark:border-zinc-600 dark:bg-zinc-900"
          value={title}
          maxLength={200}
          autoFocus
          onFocus={(event) => event.target.select()}
          onChange={(event) => setTitle(event.target.value)}
          onKeyDown={onKey}
        />
        <IconButton label="Save title" onClick={save} className="size-7">
          <Check className="size-4" />
        </IconButton>
        <IconButton label="Cancel renaming" onClick={() => setEditing(false)} className="size-7">
          <X className="size-4" />
        </IconButton>
      </li>
    );
  }

  const href = threadPath(thread.id);
  return (
    <li className="group relative">
      <a
        href={href}
        aria-current={active ? "page" : undefined}
        onClick={(event) => {
          if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          navigate(href);
          onOpen();
        }}
        className={cn(
          "flex flex-col gap-0.5 rounded-lg px-3 py-2 pr-16 text-sm transition-colors",
          active
            ? "bg-zinc-200/70 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-50"
            : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800/60",
        )}
      >
        <span className="truncate font-medium">{threadTitle(thread)}</span>
        <span className="flex items-center gap-2 text-xs text-zinc-500 dark:text-zinc-400">
          <time dateTime={thread.updated_at}>{timeAgo(thread.updated_at)}</time>
          <StatusBadge status={thread.status} />
        </span>
      </a>
      <div
        className={cn(
          "absolute top-1.5 right-1.5 flex gap-0.5 opacity-0 transition-opacity group-focus-within:opacity-100 group-hover:opacity-100 [@media(hover:none)]:opacity-100",
          active && "opacity-100",
        )}
      >
        <IconButton
          label={`Rename “${threadTitle(thread)}”`}
          className="size-7"
          onClick={() => {
            setTitle(thread.title);
            setEditing(true);
          }}
        >
          <Pencil className="size-3.5" />
        </IconButton>
        <IconButton
          label={`Delete “${threadTitle(thread)}”`}
          className="size-7 hover:text-red-600 dark:hover:text-red-400"
          onClick={onDelete}
        >
          <Trash2 className="size-3.5" />
        </IconButton>
      </div>
    </li>
  );
}
