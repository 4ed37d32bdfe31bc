import {
  ChevronRight,
  Download,
  File as FileIcon,
  FileSymlink,
  Folder,
  FolderUp,
  RefreshCw,
  Upload,
  X,
} from "lucide-react";
import { useRef, useState, type DragEvent } from "react";
import { ApiError, errorMessage } from "../../api";
import type { FileEntry } from "../../api/types";
import { IconButton } from "../../components/button";
import { Spinner } from "../../components/spinner";
import { useToast } from "../../components/toast-context";
import { cn } from "../../lib/cn";
import { bytes, fullDate, timeAgo } from "../../lib/format";
import { downloadFile, parentPath, useFileList, useUpload } from "./use-files";

function Breadcrumbs({ path, onGo }: { path: string; onGo: (path: string) => void }) {
  const parts = path.split("/").filter(Boolean);
  return (
    <nav aria-label="Folder" className="flex min-w-0 flex-wrap items-center gap-0.5 text-xs">
      <button
        type="button"
        onClick={() => onGo("/")}
        aria-label="Sandbox root"
        className="rounded px-1 py-0.5 font-mono font-medium hover:bg-zinc-100 dark:hover:bg-zinc-800"
      >
        /
      </button>
      {parts.map((part, index) => (
        <span key={index} className="flex items-center gap-0.5">
          <ChevronRight className="size-3 text-zinc-400" aria-hidden />
          <button
            type="button"
            onClick={() => onGo(`/${parts.slice(0, index + 1).join("/")}`)}
            className="max-w-32 truncate rounded px-1 py-0.5 hover:bg-zinc-100 dark:hover:bg-zinc-800"
            aria-current={index === parts.length - 1 ? "location" : undefined}
          >
            {part}
          </button>
        </span>
      ))}
    </nav>
  );
}

/** Where the agent works (its commands start there): the panel opens on it. */
const WORKSPACE = "/workspace";

/** The thread's sandbox: browse, upload (button or drag and drop), download. */
export function FilesPanel({ threadId, onClose }: { threadId: string; onClose: () => void }) {
  const [path, setPath] = useState(WORKSPACE);
  const [dragging, setDragging] = useState(false);
  const [downloading, setDownloading] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const list = useFileList(threadId, path);
  const upload = useUpload(threadId);
  const toast = useToast();

  const send = (files: File[]) => {
    if (files.length === 0) return;
    upload.mutate(
      { files, directory: path },
      {
        onSuccess: (result) =>
          toast({
            tone: "success",
            title: `Uploaded ${result.paths.length} file${result.paths.length === 1 ? "" : "s"}`,
          }),
        onError: (error) => toast({ tone: "error", title: "Upload failed", detail: errorMessage(error) }),
      },
    );
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    send(Array.from(event.dataTransfer.files));
  };

  const open = async (entry: FileEntry) => {
    if (entry.is_dir) {
      setPath(entry.path);
      return;
    }
    setDownloading(entry.path);
    try {
      await downloadFile(threadId, entry.path);
    } catch (error) {
      toast({ tone: "error", title: `Could not download ${entry.name}`, detail: errorMessage(error) });
    } finally {
      setDownloading(null);
    }
  };

  const entries = [...(list.data?.data ?? [])].sort(
    (a, b) => Number(b.is_dir) - Number(a.is_dir) || a.name.localeCompare(b.name),
  );
  const unavailable = list.error instanceof ApiError && list.error.status === 503;

  return (
    <aside
      aria-label="Files"
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
      }}
      onDrop={onDrop}
      className={cn(
        "fixed inset-0 z-30 flex flex-col bg-white md:static md:z-auto md:w-80 md:shrink-0 md:border-l md:border-zinc-200 dark:bg-zinc-950 md:dark:border-zinc-800",
        dragging && "ring-2 ring-accent-500 ring-inset",
      )}
    >
      <div className="flex h-14 shrink-0 items-center gap-1 border-b border-zinc-200 px-3 dark:border-zinc-800">
        <h2 className="flex-1 text-sm font-semibold">Files</h2>
        <IconButton label="Refresh" onClick={() => void list.refetch()}>
          <RefreshCw className={cn("size-4", list.isFetching && "animate-spin")} />
        </IconButton>
        <IconButton label="Upload files" onClick={() => input.current?.click()} disabled={upload.isPending}>
          {upload.isPending ? <Spinner /> : <Upload className="size-4" />}
        </IconButton>
        <IconButton label="Close files" onClick={onClose}>
          <X className="size-4" />
        </IconButton>
        <input
          ref={input}
          type="file"
          multiple
          className="hidden"
          onChange={(event) => {
            send(Array.from(event.target.files ?? []));
            event.target.value = "";
          }}
        />
      </div>
      <div className="flex items-center gap-1 px-3 py-2">
        {path !== "/" && (
          <IconButton label="Up one folder" className="size-7" onClick={() => setPath(parentPath(path))}>
            <FolderUp className="size-4" />
          </IconButton>
        )}
        <Breadcrumbs path={path} onGo={setPath} />
      </div>
      <div className="scrollbar-thin min-h-0 flex-1 overflow-y-auto px-2 pb-2">
        {list.isPending ? (
          <div className="flex justify-center py-8 text-zinc-400">
            <Spinner label="Loading files" />
          </div>
        ) : list.isError ? (
          <p className="px-2 py-6 text-center text-sm text-zinc-500">
            {unavailable ? "The sandbox is not running right now." : errorMessage(list.error)}
          </p>
        ) : entries.length === 0 ? (
          <p className="px-2 py-6 text-center text-sm text-zinc-500">
            {path === WORKSPACE
              ? "No files yet. Files Warren writes appear here; drop files to upload them."
              : "This folder is empty."}
          </p>
        ) : (
          <ul className="flex flex-col">
            {entries.map((entry) => (
              <li key={entry.path}>
                <button
                  type="button"
                  onClick={() => void open(entry)}
                  className="group flex w-full items-center gap-2 rounded-md px-2 py-1.5 text-left text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800/70"
                  title={
                    entry.is_dir ? `Open ${entry.name}` : `Download ${entry.name} (${fullDate(entry.modified_at)})`
                  }
                >
                  {entry.is_dir ? (
                    <Folder className="size-4 shrink-0 text-accent-500" aria-hidden />
                  ) : entry.is_symlink ? (
                    <FileSymlink className="size-4 shrink-0 text-zinc-400" aria-label="link" />
                  ) : (
                    <FileIcon className="size-4 shrink-0 text-zinc-400" aria-hidden />
                  )}
                  <span className="min-w-0 flex-1 truncate">{entry.name}</span>
                  {!entry.is_dir && <span className="shrink-0 text-xs text-zinc-400">{bytes(entry.size)}</span>}
                  <span className="hidden shrink-0 text-xs text-zinc-400 sm:inline">{timeAgo(entry.modified_at)}</span>
                  {!entry.is_dir &&
                    (downloading === entry.path ? (
                      <Spinner className="size-3.5 shrink-0" />
                    ) : (
                      <Download
                        className="size-3.5 shrink-0 text-zinc-400 opacity-0 group-hover:opacity-100"
                        aria-hidden
                      />
                    ))}
                </button>
              </li>
            ))}
          </ul>
        )}
        {list.data?.truncated && (
          <p className="px-2 py-2 text-xs text-zinc-500">Only the first {list.data.count} entries are shown.</p>
        )}
      </div>
      <p className="border-t border-zinc-200 px-3 py-2 text-xs text-zinc-500 dark:border-zinc-800">
        {dragging ? "Drop to upload into this folder" : "Drag files here to upload them into this folder."}
      </p>
    </aside>
  );
}
