import { ArrowLeft, Menu, Trash2 } from "lucide-react";
import { useState } from "react";
import { errorMessage } from "../../api";
import type { ApiKeyPublic } from "../../api/types";
import { IconButton } from "../../components/button";
import { ConfirmDialog } from "../../components/confirm-dialog";
import { Spinner } from "../../components/spinner";
import { useToast } from "../../components/toast-context";
import { fullDate, isPast, timeAgo } from "../../lib/format";
import { navigate } from "../../lib/router";
import { useUser } from "../auth/auth-context";
import { NewKeyForm } from "./new-key-form";
import { SkillsSection } from "./skills-section";
import { useApiKeys, useRevokeApiKey } from "./use-api-keys";

function KeyRow({ apiKey, onRevoke }: { apiKey: ApiKeyPublic; onRevoke: () => void }) {
  const expired = isPast(apiKey.expires_at);
  return (
    <li className="flex items-center gap-3 py-3">
      <div className="min-w-0 flex-1">
        <p className="flex items-center gap-2 text-sm font-medium">
          <span className="truncate">{apiKey.name}</span>
          {expired && (
            <span className="rounded-full bg-zinc-100 px-1.5 text-[11px] text-zinc-600 dark:bg-zinc-800 dark:text-zinc-400">
              expired
            </span>
          )}
        </p>
        <p className="mt-0.5 text-xs text-zinc-500">
          <code className="font-mono">{apiKey.prefix}…</code> · created {timeAgo(apiKey.created_at)} · last used{" "}
          {apiKey.last_used_at ? timeAgo(apiKey.last_used_at) : "never"} ·{" "}
          {apiKey.expires_at ? `expires ${fullDate(apiKey.expires_at)}` : "never expires"}
        </p>
      </div>
      <IconButton
        label={`Revoke ${apiKey.name}`}
        onClick={onRevoke}
        className="hover:text-red-600 dark:hover:text-red-400"
      >
        <Trash2 className="size-4" />
      </IconButton>
    </li>
  );
}

export function SettingsPage({ onOpenSidebar }: { onOpenSidebar: () => void }) {
  const user = useUser();
  const keys = useApiKeys();
  const revoke = useRevokeApiKey();
  const toast = useToast();
  const [revoking, setRevoking] = useState<ApiKeyPublic | null>(null);

  return (
    <div className="flex h-full min-h-0 flex-col">
      <header className="flex h-14 shrink-0 items-center gap-2 border-b border-zinc-200 px-3 dark:border-zinc-800">
        <IconButton label="Show conversations" onClick={onOpenSidebar} className="md:hidden">
          <Menu className="size-5" />
        </IconButton>
        <IconButton label="Back" onClick={() => navigate("/")} className="hidden md:inline-flex">
          <ArrowLeft className="size-4" />
        </IconButton>
        <h1 className="text-[15px] font-semibold">Settings</h1>
      </header>
      <div className="scrollbar-thin min-h-0 flex-1 overflow-y-auto">
        <div className="mx-auto flex max-w-2xl flex-col gap-8 px-4 py-8">
          <section className="flex flex-col gap-1">
            <h2 className="text-lg font-semibold">Account</h2>
            <p className="text-sm text-zinc-600 dark:text-zinc-400">
              Signed in as <span className="font-medium text-zinc-900 dark:text-zinc-100">{user.username}</span> since{" "}
              {fullDate(user.created_at)}.
            </p>
          </section>
          <section className="flex flex-col gap-4">
            <div>
              <h2 className="text-lg font-semibold">API keys</h2>
              <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
                Keys let scripts and other programs use Warren's HTTP API as you. Treat them like passwords.
              </p>
            </div>
            <NewKeyForm />
            <div className="rounded-xl border border-zinc-200 px-4 dark:border-zinc-800">
              {keys.isPending ? (
                <div className="flex justify-center py-6 text-zinc-400">
                  <Spinner label="Loading keys" />
                </div>
              ) : keys.isError ? (
                <p className="py-6 text-center text-sm text-zinc-500">{errorMessage(keys.error)}</p>
              ) : keys.data.data.length === 0 ? (
                <p className="py-6 text-center text-sm text-zinc-500">No API keys yet.</p>
              ) : (
                <ul className="divide-y divide-zinc-200 dark:divide-zinc-800">
                  {keys.data.data.map((apiKey) => (
                    <KeyRow key={apiKey.id} apiKey={apiKey} onRevoke={() => setRevoking(apiKey)} />
                  ))}
                </ul>
              )}
            </div>
          </section>
          <SkillsSection />
        </div>
      </div>
      <ConfirmDialog
        open={revoking !== null}
        title="Revoke this API key?"
        description={`Programs using “${revoking?.name ?? ""}” will stop working at once.`}
        confirmLabel="Revoke"
        busy={revoke.isPending}
        onClose={() => setRevoking(null)}
        onConfirm={() => {
          if (!revoking) return;
          revoke.mutate(revoking.id, {
            onSuccess: () => setRevoking(null),
            onError: (error) => {
              setRevoking(null);
              toast({ tone: "error", title: "Could not revoke the key", detail: errorMessage(error) });
            },
          });
        }}
      />
      {revoke.isPending && <span className="sr-only">Revoking…</span>}
    </div>
  );
}
