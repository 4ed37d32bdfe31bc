import { Check, Copy, KeyRound } from "lucide-react";
import { useState, type SubmitEvent } from "react";
import { errorMessage } from "../../api";
import type { ApiKeyCreated } from "../../api/types";
import { Button } from "../../components/button";
import { inputClass } from "../../components/styles";
import { TextField } from "../../components/text-field";
import { useCreateApiKey } from "./use-api-keys";

const EXPIRY = [
  { label: "30 days", days: 30 },
  { label: "90 days", days: 90 },
  { label: "1 year", days: 365 },
  { label: "Never", days: null },
];

function SecretOnce({ created, onDone }: { created: ApiKeyCreated; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard.writeText(created.secret).then(() => setCopied(true));
  };
  return (
    <div className="flex flex-col gap-3 rounded-xl border border-emerald-200 bg-emerald-50 p-4 dark:border-emerald-900/50 dark:bg-emerald-950/30">
      <p className="text-sm font-medium text-emerald-900 dark:text-emerald-200">
        “{created.name}” is ready. Copy it now: it will not be shown again.
      </p>
      <div className="flex gap-2">
        <input
          readOnly
          value={created.secret}
          aria-label="New API key"
          onFocus={(event) => event.target.select()}
          className={`${inputClass} font-mono text-xs`}
        />
        <Button onClick={copy} icon={copied ? <Check className="size-4" /> : <Copy className="size-4" />}>
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
      <p className="text-xs text-emerald-800/80 dark:text-emerald-300/80">
        Use it as <code className="font-mono">Authorization: Bearer wk_…</code> with the HTTP API.
      </p>
      <Button size="sm" variant="ghost" className="self-start" onClick={onDone}>
        Done
      </Button>
    </div>
  );
}

export function NewKeyForm() {
  const create = useCreateApiKey();
  const [name, setName] = useState("");
  const [days, setDays] = useState<string>("90");
  const [created, setCreated] = useState<ApiKeyCreated | null>(null);

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    create.mutate(
      { name: name.trim(), expires_in_days: days === "never" ? null : Number(days) },
      {
        onSuccess: (key) => {
          setCreated(key);
          setName("");
        },
      },
    );
  };

  if (created) return <SecretOnce created={created} onDone={() => setCreated(null)} />;

  return (
    <form onSubmit={submit} className="flex flex-col gap-3 sm:flex-row sm:items-end">
      <TextField
        label="Key name"
        placeholder="e.g. CI pipeline"
        required
        maxLength={100}
        value={name}
        onChange={(event) => setName(event.target.value)}
        className="flex-1"
      />
      <div className="flex flex-col gap-1.5">
        <label htmlFor="key-expiry" className="text-sm font-medium text-zinc-800 dark:text-zinc-200">
          Expires
        </label>
        <select
          id="key-expiry"
          value={days}
          onChange={(event) => setDays(event.target.value)}
          className={`${inputClass} sm:w-32`}
        >
          {EXPIRY.map((option) => (
            <option key={option.label} value={option.days === null ? "never" : String(option.days)}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      <Button
        type="submit"
        variant="primary"
        busy={create.isPending}
        disabled={!name.trim()}
        icon={<KeyRound className="size-4" />}
      >
        Create key
      </Button>
      {create.isError && (
        <p role="alert" className="text-sm text-red-600 sm:basis-full dark:text-red-400">
          {errorMessage(create.error)}
        </p>
      )}
    </form>
  );
}
