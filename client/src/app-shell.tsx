import { useEffect, useState } from "react";
import { cn } from "./lib/cn";
import { parseRoute, usePathname } from "./lib/router";
import { useMediaQuery } from "./lib/use-media-query";
import { ChatView } from "./features/chat/chat-view";
import { NewChat } from "./features/chat/new-chat";
import { SettingsPage } from "./features/settings/settings-page";
import { ThreadSidebar } from "./features/threads/thread-sidebar";

/** Signed in: the conversation list beside the current screen (a drawer on phones). */
export function AppShell() {
  const route = parseRoute(usePathname());
  const [drawer, setDrawer] = useState(false);
  const desktop = useMediaQuery("(min-width: 768px)");
  const openDrawer = () => setDrawer(true);
  const closeDrawer = () => setDrawer(false);

  useEffect(() => {
    if (!drawer) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      event.preventDefault(); // this Escape closes the drawer; it must not also stop a run
      setDrawer(false);
    };
    // capture: runs before the chat's own Escape listener, which skips prevented events
    window.addEventListener("keydown", onKey, true);
    return () => window.removeEventListener("keydown", onKey, true);
  }, [drawer]);

  return (
    <div className="flex h-full">
      {drawer && <div className="fixed inset-0 z-30 bg-zinc-950/40 md:hidden" onClick={closeDrawer} aria-hidden />}
      <div
        inert={!desktop && !drawer}
        className={cn(
          "fixed inset-y-0 left-0 z-40 w-72 max-w-[85vw] border-r border-zinc-200 bg-zinc-50 transition-transform md:static md:z-auto md:translate-x-0 dark:border-zinc-800 dark:bg-zinc-900",
          drawer ? "translate-x-0 shadow-xl" : "-translate-x-full",
        )}
      >
        <ThreadSidebar activeThreadId={route.name === "thread" ? route.threadId : null} onNavigate={closeDrawer} />
      </div>
      <main className="min-w-0 flex-1">
        {route.name === "thread" ? (
          <ChatView key={route.threadId} threadId={route.threadId} onOpenSidebar={openDrawer} />
        ) : route.name === "settings" ? (
          <SettingsPage onOpenSidebar={openDrawer} />
        ) : (
          <NewChat onOpenSidebar={openDrawer} />
        )}
      </main>
    </div>
  );
}
