import { AssistantText } from "./assistant-text";
import { childScopeKey, isLive, type RunView } from "./stream-reducer";
import { ToolCallCard } from "./tool-call-card";

/**
 * The items of one agent scope in the order they happened: text segments and tool-call
 * cards; a subagent's own scope renders inside its `task` card, recursively.
 */
export function RunScope({ view, scope, depth = 0 }: { view: RunView; scope: string; depth?: number }) {
  const items = view.scopes[scope] ?? [];
  const live = isLive(view.phase);
  if (items.length === 0) return null;
  return (
    <>
      {items.map((item, index) => {
        if (item.kind === "text") {
          const text = view.texts[item.key];
          if (!text) return null;
          const last = index === items.length - 1;
          return depth === 0 ? (
            <AssistantText key={item.key} text={text.text} streaming={live && last} />
          ) : (
            <p key={item.key} className="text-sm whitespace-pre-wrap text-zinc-700 dark:text-zinc-300">
              {text.text}
            </p>
          );
        }
        const tool = view.tools[item.id];
        if (!tool) return null;
        const nested = view.scopes[childScopeKey(tool)]?.length ? (
          <RunScope view={view} scope={childScopeKey(tool)} depth={depth + 1} />
        ) : null;
        return (
          <ToolCallCard key={item.id} tool={tool}>
            {nested}
          </ToolCallCard>
        );
      })}
    </>
  );
}
