/** A tiny path router over the History API (the server answers every page path with the app). */

import { useSyncExternalStore } from "react";

const NAVIGATE = "warren:navigate";

function subscribe(listener: () => void): () => void {
  window.addEventListener("popstate", listener);
  window.addEventListener(NAVIGATE, listener);
  return () => {
    window.removeEventListener("popstate", listener);
    window.removeEventListener(NAVIGATE, listener);
  };
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === window.location.pathname) return;
  if (options.replace) window.history.replaceState(null, "", path);
  else window.history.pushState(null, "", path);
  window.dispatchEvent(new Event(NAVIGATE));
}

export function usePathname(): string {
  return useSyncExternalStore(
    subscribe,
    () => window.location.pathname,
    () => "/",
  );
}

export type Route = { name: "home" } | { name: "thread"; threadId: string } | { name: "settings" };

export function parseRoute(pathname: string): Route {
  const thread = /^\/threads\/([^/]+)\/?$/.exec(pathname);
  if (thread?.[1]) return { name: "thread", threadId: decodeURIComponent(thread[1]) };
  if (/^\/settings\/?$/.test(pathname)) return { name: "settings" };
  return { name: "home" };
}

export function threadPath(threadId: string): string {
  return `/threads/${encodeURIComponent(threadId)}`;
}
