import { cn } from "../lib/cn";

export function Logo({ className }: { className?: string }) {
  return (
    <svg viewBox="0 0 32 32" className={cn("shrink-0", className ?? "size-7")} aria-hidden="true">
      <rect width="32" height="32" rx="8" className="fill-accent-600 dark:fill-accent-500" />
      <path
        d="M6 22c0-5.5 4.5-10 10-10s10 4.5 10 10"
        fill="none"
        stroke="#fff"
        strokeWidth="2.5"
        strokeLinecap="round"
      />
      <path d="M11 22c0-2.8 2.2-5 5-5s5 2.2 5 5" fill="none" stroke="#c7d2fe" strokeWidth="2.5" strokeLinecap="round" />
      <circle cx="16" cy="22" r="1.8" fill="#fff" />
    </svg>
  );
}
