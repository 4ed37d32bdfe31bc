/**
 * The first message of a conversation started from the home screen: the thread is created
 * there, and its chat view starts the run once it mounts. The entry stays until the run has
 * started, so a remount (React's strict mode, a fast thread switch) cannot lose it.
 */

const pending = new Map<string, string>();

export function setPendingMessage(threadId: string, text: string): void {
  pending.set(threadId, text);
}

export function peekPendingMessage(threadId: string): string | null {
  return pending.get(threadId) ?? null;
}

export function consumePendingMessage(threadId: string): void {
  pending.delete(threadId);
}
