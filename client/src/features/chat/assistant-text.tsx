import { lazy, memo, Suspense } from "react";

// The markdown stack (parser, GFM, highlighter) loads on first use, off the login screen's path.
const Markdown = lazy(() => import("./markdown"));

function Plain({ text }: { text: string }) {
  return <div className="text-[15px] leading-relaxed whitespace-pre-wrap">{text}</div>;
}

/** Assistant text as markdown; a caret while it is still being written. */
export const AssistantText = memo(function AssistantText({ text, streaming }: { text: string; streaming?: boolean }) {
  return (
    <div className="min-w-0">
      <Suspense fallback={<Plain text={text} />}>
        <Markdown text={text} />
      </Suspense>
      {streaming && <span className="mt-1 inline-block h-4 w-1.5 animate-blink rounded-sm bg-accent-500" aria-hidden />}
    </div>
  );
});
