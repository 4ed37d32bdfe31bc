import { Bot, FolderOpen, ListChecks, Search, TerminalSquare } from "lucide-react";
import { Logo } from "../../components/logo";

const abilities = [
  {
    icon: ListChecks,
    title: "Plans its work",
    text: "Breaks a task into steps and keeps the plan up to date as it goes.",
  },
  {
    icon: TerminalSquare,
    title: "Works in a sandbox",
    text: "Writes files and runs code in a private workspace for each conversation.",
  },
  {
    icon: Bot,
    title: "Delegates",
    text: "Hands focused research or reviews to specialist subagents and shows you their work.",
  },
  { icon: FolderOpen, title: "Shares files", text: "Upload inputs, then browse and download everything it produced." },
];

const examples = [
  "Research the trade-offs between SQLite and PostgreSQL for a small SaaS and write a summary",
  "Write a Python script that deduplicates a CSV by email, then test it on a sample file",
  "Plan a 3-day trip to Lisbon with a budget table",
];

/** What Warren can do, with examples that fill the composer. */
export function EmptyState({ onExample }: { onExample: (text: string) => void }) {
  return (
    <div className="mx-auto flex w-full max-w-3xl flex-col items-center gap-8 px-4 py-10 sm:py-16">
      <div className="flex flex-col items-center gap-3 text-center">
        <Logo className="size-12" />
        <h1 className="text-2xl font-semibold tracking-tight sm:text-3xl">What should Warren work on?</h1>
        <p className="max-w-lg text-zinc-600 dark:text-zinc-400">
          Warren is an agent, not just a chatbot: give it a goal and watch it plan, use tools and report back. You can
          stop it at any time.
        </p>
      </div>
      <ul className="grid w-full gap-3 sm:grid-cols-2">
        {abilities.map(({ icon: Icon, title, text }) => (
          <li
            key={title}
            className="flex gap-3 rounded-xl border border-zinc-200 bg-white p-4 dark:border-zinc-800 dark:bg-zinc-900/50"
          >
            <Icon className="mt-0.5 size-5 shrink-0 text-accent-500" aria-hidden />
            <div>
              <p className="text-sm font-medium">{title}</p>
              <p className="mt-0.5 text-sm text-zinc-600 dark:text-zinc-400">{text}</p>
            </div>
          </li>
        ))}
      </ul>
      <div className="flex w-full flex-col gap-2">
        <p className="flex items-center gap-1.5 text-xs font-medium tracking-wide text-zinc-500 uppercase">
          <Search className="size-3.5" aria-hidden /> Try
        </p>
        {examples.map((example) => (
          <button
            key={example}
            type="button"
            onClick={() => onExample(example)}
            className="rounded-lg border border-dashed border-zinc-300 px-3 py-2 text-left text-sm text-zinc-700 transition-colors hover:border-accent-400 hover:bg-accent-50/50 dark:border-zinc-700 dark:text-zinc-300 dark:hover:border-accent-500/50 dark:hover:bg-accent-500/5"
          >
            {example}
          </button>
        ))}
      </div>
    </div>
  );
}
