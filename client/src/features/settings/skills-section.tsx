import { Download, ExternalLink, Puzzle, Trash2 } from "lucide-react";
import { useState, type SubmitEvent } from "react";
import { errorMessage } from "../../api";
import type { SkillPublic } from "../../api/types";
import { Button, IconButton } from "../../components/button";
import { ConfirmDialog } from "../../components/confirm-dialog";
import { Spinner } from "../../components/spinner";
import { TextField } from "../../components/text-field";
import { useToast } from "../../components/toast-context";
import { fullDate } from "../../lib/format";
import { httpUrl, installProblem } from "./skill-form";
import { useInstallSkill, useRemoveSkill, useSkills } from "./use-skills";

/** A source address shown short (host and path), linked only when it is http(s). */
function SourceLink({ url }: { url: string }) {
  const parsed = httpUrl(url);
  if (!parsed) return <span className="break-all">{url}</span>;
  return (
    <a
      href={parsed.href}
      target="_blank"
      rel="noreferrer noopener"
      title={parsed.href}
      className="inline-flex min-w-0 items-center gap-1 text-accent-600 hover:underline dark:text-accent-400"
    >
      <span className="truncate">
        {parsed.host}
        {parsed.pathname}
      </span>
      <ExternalLink className="size-3 shrink-0" aria-hidden />
    </a>
  );
}

function SkillRow({ skill, onRemove }: { skill: SkillPublic; onRemove: () => void }) {
  return (
    <li className="flex items-start gap-3 py-3">
      <Puzzle className="mt-0.5 size-4 shrink-0 text-accent-500" aria-hidden />
      <div className="min-w-0 flex-1">
        <p className="font-mono text-sm font-medium">{skill.name}</p>
        {skill.description && <p className="mt-0.5 text-sm text-zinc-600 dark:text-zinc-400">{skill.description}</p>}
        <p className="mt-1 flex min-w-0 flex-wrap items-center gap-x-1 text-xs text-zinc-500">
          <span>installed {fullDate(skill.installed_at)}</span>
          {skill.source_url && (
            <>
              <span aria-hidden>·</span>
              <span className="flex min-w-0 items-center gap-1">
                from <SourceLink url={skill.source_url} />
              </span>
            </>
          )}
          {skill.sha256 && (
            <>
              <span aria-hidden>·</span>
              <code className="font-mono" title={`SHA-256 ${skill.sha256}`}>
                {skill.sha256.slice(0, 12)}…
              </code>
            </>
          )}
        </p>
      </div>
      <IconButton
        label={`Remove ${skill.name}`}
        onClick={onRemove}
        className="hover:text-red-600 dark:hover:text-red-400"
      >
        <Trash2 className="size-4" />
      </IconButton>
    </li>
  );
}

function InstallForm() {
  const install = useInstallSkill();
  const toast = useToast();
  const [url, setUrl] = useState("");
  const [sha256, setSha256] = useState("");
  const [checked, setChecked] = useState(false);
  const problems = checked ? installProblem(url, sha256) : {};

  const submit = (event: SubmitEvent) => {
    event.preventDefault();
    setChecked(true);
    const found = installProblem(url, sha256);
    if (found.url || found.sha256) return;
    const pin = sha256.trim().toLowerCase();
    install.mutate(
      { url: url.trim(), ...(pin ? { sha256: pin } : {}) },
      {
        onSuccess: (skill) => {
          setUrl("");
          setSha256("");
          setChecked(false);
          toast({
            tone: "success",
            title: `Installed “${skill.name}”`,
            detail: "Warren can use it in every conversation from now on.",
          });
        },
      },
    );
  };

  return (
    <form onSubmit={submit} noValidate className="flex flex-col gap-3">
      <TextField
        label="Skill archive URL"
        type="url"
        inputMode="url"
        placeholder="https://example.com/skills/report-writer.zip"
        hint="A .zip with a SKILL.md at its root (name and description in its front matter)."
        required
        maxLength={2048}
        value={url}
        error={problems.url ?? null}
        onChange={(event) => setUrl(event.target.value)}
        disabled={install.isPending}
      />
      <div className="flex flex-col gap-3 sm:flex-row sm:items-start">
        <TextField
          label="SHA-256 (optional)"
          placeholder="Refuse the archive unless it has this checksum"
          spellCheck={false}
          autoComplete="off"
          maxLength={64}
          value={sha256}
          error={problems.sha256 ?? null}
          onChange={(event) => setSha256(event.target.value)}
          disabled={install.isPending}
          className="flex-1 [&_input]:font-mono"
        />
        <Button
          type="submit"
          variant="primary"
          busy={install.isPending}
          disabled={!url.trim()}
          icon={<Download className="size-4" />}
          className="sm:mt-7"
        >
          {install.isPending ? "Installing…" : "Install skill"}
        </Button>
      </div>
      {install.isError && (
        <p role="alert" className="text-sm text-red-600 dark:text-red-400">
          Could not install the skill: {errorMessage(install.error)}
        </p>
      )}
    </form>
  );
}

/** Settings → Skills: what the user installed, install from a URL, remove. */
export function SkillsSection() {
  const skills = useSkills();
  const remove = useRemoveSkill();
  const toast = useToast();
  const [removing, setRemoving] = useState<SkillPublic | null>(null);

  return (
    <section className="flex flex-col gap-4" aria-labelledby="skills-heading">
      <div>
        <h2 id="skills-heading" className="text-lg font-semibold">
          Skills
        </h2>
        <p className="mt-1 text-sm text-zinc-600 dark:text-zinc-400">
          Skills teach Warren a way of working: instructions, scripts and templates it reads when a task calls for them.
          They are yours alone and come with you into every conversation.
        </p>
      </div>
      <InstallForm />
      <div className="rounded-xl border border-zinc-200 px-4 dark:border-zinc-800">
        {skills.isPending ? (
          <div className="flex justify-center py-6 text-zinc-400">
            <Spinner label="Loading skills" />
          </div>
        ) : skills.isError ? (
          <div className="flex flex-col items-center gap-2 py-6 text-center text-sm text-zinc-500">
            <p>{errorMessage(skills.error)}</p>
            <Button size="sm" onClick={() => void skills.refetch()}>
              Try again
            </Button>
          </div>
        ) : skills.data.data.length === 0 ? (
          <p className="py-6 text-center text-sm text-zinc-500">No skills installed yet.</p>
        ) : (
          <ul aria-label="Installed skills" className="divide-y divide-zinc-200 dark:divide-zinc-800">
            {skills.data.data.map((skill) => (
              <SkillRow key={skill.name} skill={skill} onRemove={() => setRemoving(skill)} />
            ))}
          </ul>
        )}
      </div>
      <ConfirmDialog
        open={removing !== null}
        title="Remove this skill?"
        description={`Warren will no longer use “${removing?.name ?? ""}”. You can install it again from its URL.`}
        confirmLabel="Remove"
        busy={remove.isPending}
        onClose={() => setRemoving(null)}
        onConfirm={() => {
          if (!removing) return;
          remove.mutate(removing.name, {
            onSuccess: () => setRemoving(null),
            onError: (error) => {
              setRemoving(null);
              toast({ tone: "error", title: "Could not remove the skill", detail: errorMessage(error) });
            },
          });
        }}
      />
    </section>
  );
}
