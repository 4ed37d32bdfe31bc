import { ChevronDown, Circle, CircleCheck, CircleDot, ListTodo } from "lucide-react";
import { useId, useState } from "react";
import type { Todo } from "../../api/types";
import { cn } from "../../lib/cn";

const icons = {
  completed: <CircleCheck className="size-4 shrink-0 text-emerald-500" aria-hidden />,
  in_progress: <CircleDot className="size-4 shrink-0 animate-pulse text-accent-500" aria-hidden />,
  pending: <Circle className="size-4 shrink-0 text-zinc-300 dark:text-zinc-600" aria-hidden />,
};

const statusText = { completed: "done", in_progress: "in progress", pending: "to do" };

/** The agent's plan (`write_todos`), live while it works and restored from the thread's state. */
export function TodoPanel({ todos, live }: { todos: Todo[]; live: boolean }) {
  const [chosen, setOpen] = useState<boolean | null>(null);
  const open = chosen ?? live; // open while the agent works, unless the reader decided
  const listId = useId();
  if (todos.length === 0) return null;
  const done = todos.filter((todo) => todo.status === "completed").length;
  const current = todos.find((todo) => todo.status === "in_progress");
  return (
    <section
      aria-label="Plan"
      className="rounded-xl border border-zinc-200 bg-white/80 text-sm backdrop-blur dark:border-zinc-800 dark:bg-zinc-900/80"
    >
      <button
        type="button"
        onClick={() => setOpen(!open)}
        aria-expanded={open}
        aria-controls={listId}
        className="flex w-full items-center gap-2 px-3 py-2 text-left"
      >
        <ListTodo className="size-4 shrink-0 text-zinc-500" aria-hidden />
        <span className="font-medium">Plan</span>
        <span className="text-zinc-500">
          {done} of {todos.length} done
        </span>
        {!open && current && <span className="min-w-0 flex-1 truncate text-zinc-500">· {current.content}</span>}
        <div className="ml-auto h-1.5 w-16 overflow-hidden rounded-full bg-zinc-100 dark:bg-zinc-800" aria-hidden>
          <div
            className="h-full rounded-full bg-emerald-500 transition-all"
            style={{ width: `${(done / todos.length) * 100}%` }}
          />
        </div>
        <ChevronDown
          className={cn("size-4 shrink-0 text-zinc-400 transition-transform", open && "rotate-180")}
          aria-hidden
        />
      </button>
      {open && (
        <ol
          id={listId}
          className="scrollbar-thin flex max-h-48 flex-col gap-1.5 overflow-y-auto border-t border-zinc-100 px-3 py-2 dark:border-zinc-800"
        >
          {todos.map((todo, index) => (
            <li key={`${index}-${todo.content}`} className="flex items-start gap-2">
              <span className="mt-0.5">{icons[todo.status]}</span>
              <span
                className={cn(
                  todo.status === "completed" && "text-zinc-500 line-through",
                  todo.status === "in_progress" && "font-medium",
                )}
              >
                {todo.content}
                <span className="sr-only"> ({statusText[todo.status]})</span>
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
