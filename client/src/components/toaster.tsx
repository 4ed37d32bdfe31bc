import { CircleAlert, CircleCheck, Info, X } from "lucide-react";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { cn } from "../lib/cn";
import { ToastContext, type ToastInput } from "./toast-context";

interface Toast extends ToastInput {
  id: number;
}

const LIFETIME_MS = 6000;
const MAX_TOASTS = 4;

const icons = {
  error: <CircleAlert className="size-5 text-red-500" aria-hidden />,
  success: <CircleCheck className="size-5 text-emerald-500" aria-hidden />,
  info: <Info className="size-5 text-accent-500" aria-hidden />,
};

/** Readable, dismissable notices; errors are announced assertively. */
export function Toaster({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);

  const dismiss = useCallback((id: number) => {
    setToasts((list) => list.filter((toast) => toast.id !== id));
  }, []);

  const show = useCallback((input: ToastInput) => {
    const id = next.current++;
    setToasts((list) => {
      // the same notice twice in a row is shown once
      const last = list[list.length - 1];
      if (last?.title === input.title && last.detail === input.detail) return list;
      return [...list, { ...input, id }].slice(-MAX_TOASTS);
    });
  }, []);

  return (
    <ToastContext.Provider value={show}>
      {children}
      <div
        className="pointer-events-none fixed inset-x-0 bottom-24 z-50 sm:bottom-0 flex flex-col items-center gap-2 p-4 sm:items-end"
        aria-live="polite"
        aria-relevant="additions"
      >
        {toasts.map((toast) => (
          <ToastView key={toast.id} toast={toast} onDismiss={dismiss} />
        ))}
      </div>
    </ToastContext.Provider>
  );
}

function ToastView({ toast, onDismiss }: { toast: Toast; onDismiss: (id: number) => void }) {
  const [paused, setPaused] = useState(false);
  useEffect(() => {
    if (paused) return;
    const timer = setTimeout(() => onDismiss(toast.id), LIFETIME_MS);
    return () => clearTimeout(timer);
  }, [paused, toast.id, onDismiss]);
  const tone = toast.tone ?? "info";
  return (
    <div
      role={tone === "error" ? "alert" : "status"}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
      className={cn(
        "pointer-events-auto flex w-full max-w-sm animate-fade-in items-start gap-3 rounded-xl border bg-white p-3.5 shadow-lg dark:bg-zinc-900",
        tone === "error" ? "border-red-200 dark:border-red-900/60" : "border-zinc-200 dark:border-zinc-800",
      )}
    >
      {icons[tone]}
      <div className="min-w-0 flex-1 text-sm">
        <p className="font-medium">{toast.title}</p>
        {toast.detail && <p className="mt-0.5 break-words text-zinc-600 dark:text-zinc-400">{toast.detail}</p>}
      </div>
      <button
        type="button"
        onClick={() => onDismiss(toast.id)}
        aria-label="Dismiss"
        className="rounded p-0.5 text-zinc-400 hover:text-zinc-700 dark:hover:text-zinc-200"
      >
        <X className="size-4" />
      </button>
    </div>
  );
}
