import { FolderOpen, Menu } from "lucide-react";
import type { ThreadPublic } from "../../api/types";
import { IconButton } from "../../components/button";
import { cn } from "../../lib/cn";
import { StatusBadge } from "../threads/status-badge";
import { threadTitle } from "../threads/thread-title";

interface ChatHeaderProps {
  thread: ThreadPublic | undefined;
  onOpenSidebar: () => void;
  filesOpen?: boolean;
  onToggleFiles?: () => void;
}

export function ChatHeader({ thread, onOpenSidebar, filesOpen, onToggleFiles }: ChatHeaderProps) {
  return (
    <header className="flex h-14 shrink-0 items-center gap-2 border-b border-zinc-200 px-3 dark:border-zinc-800">
      <IconButton label="Show conversations" onClick={onOpenSidebar} className="md:hidden">
        <Menu className="size-5" />
      </IconButton>
      <h1 className="min-w-0 truncate text-[15px] font-semibold">
        {thread ? threadTitle(thread) : "New conversation"}
      </h1>
      {thread && <StatusBadge status={thread.status} />}
      <div className="ml-auto flex items-center gap-1">
        {onToggleFiles && (
          <IconButton
            label={filesOpen ? "Hide files" : "Show files"}
            aria-pressed={filesOpen}
            onClick={onToggleFiles}
            className={cn(filesOpen && "bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-100")}
          >
            <FolderOpen className="size-4" />
          </IconButton>
        )}
      </div>
    </header>
  );
}
