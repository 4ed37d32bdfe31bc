import { ArrowUp, Square } from "lucide-react";
import { useEffect, useRef, type SubmitEvent, type KeyboardEvent } from "react";
import { cn } from "../../lib/cn";

interface ComposerProps {
  value: string;
  onChange: (text: string) => void;
  onSend: () => void;
  onStop: () => void;
  live: boolean;
  stopping?: boolean;
  disabled?: boolean;
  placeholder?: string;
  autoFocus?: boolean;
}

const MAX_CHARS = 200_000;

/** The message box: Enter sends, Shift+Enter adds a line, Esc stops a running task. */
export function Composer({
  value,
  onChange,
  onSend,
  onStop,
  live,
  stopping,
  disabled,
  placeholder,
  autoFocus,
}: ComposerProps) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const canSend = !live && !disabled && value.trim().length > 0 && value.length <= MAX_CHARS;

  // grow with the text, up to a limit
  useEffect(() => {
    const box = ref.current;
    if (!box) return;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 240)}px`;
  }, [value]);

  useEffect(() => {
    if (autoFocus && window.matchMedia("(hover: hover)").matches) ref.current?.focus();
  }, [autoFocus]);

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    // An IME is composing a character. Safari reports the Enter that confirms it as not
    // composing; only its keyCode, 229, tells.
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the one reliable signal here
    if (event.nativeEvent.isComposing || event.keyCode === 229) return;
    if (event.key === "Enter" && !event.shiftKey && !event.altKey) {
      event.preventDefault();
      if (canSend) onSend();
    } else if (event.key === "Escape" && live) {
      event.preventDefault();
      onStop();
    }
  };

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    if (live) onStop();
    else if (canSend) onSend();
  };

  return (
    <form
      onSubmit={submit}
      className="relative flex items-end gap-2 rounded-2xl border border-zinc-300 bg-white p-2 shadow-sm transition-colors focus-within:border-accent-500 focus-within:ring-2 focus-within:ring-accent-500/20 dark:border-zinc-700 dark:bg-zinc-900"
    >
      <label htmlFor="composer" className="sr-only">
        Message Warren
      </label>
      <textarea
        id="composer"
        ref={ref}
        rows={1}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        onKeyDown={onKeyDown}
        placeholder={placeholder ?? "Ask Warren to research, write or build something…"}
        aria-describedby="composer-hint"
        disabled={disabled}
        className="scrollbar-thin max-h-60 min-h-10 flex-1 resize-none bg-transparent px-2 py-2 text-[15px] leading-6 placeholder:text-zinc-400 focus:outline-none disabled:opacity-60"
      />
      {live ? (
        <button
          type="submit"
          aria-label={stopping ? "Stopping" : "Stop (Esc)"}
          title="Stop (Esc)"
          disabled={stopping}
          className="flex size-10 shrink-0 items-center justify-center rounded-xl bg-zinc-900 text-white transition-colors hover:bg-zinc-700 disabled:opacity-60 dark:bg-zinc-100 dark:text-zinc-900 dark:hover:bg-zinc-300"
        >
          <Square className={cn("size-4 fill-current", stopping && "animate-pulse")} />
        </button>
      ) : (
        <button
          type="submit"
          aria-label="Send (Enter)"
          title="Send (Enter)"
          disabled={!canSend}
          className="flex size-10 shrink-0 items-center justify-center rounded-xl bg-accent-600 text-white transition-colors hover:bg-accent-700 disabled:bg-zinc-200 disabled:text-zinc-400 dark:bg-accent-500 dark:hover:bg-accent-400 dark:disabled:bg-zinc-800 dark:disabled:text-zinc-600"
        >
          <ArrowUp className="size-5" />
        </button>
      )}
      <p id="composer-hint" className="sr-only">
        Enter sends, Shift+Enter adds a new line, Escape stops a running task.
      </p>
    </form>
  );
}
