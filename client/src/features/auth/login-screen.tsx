import { useQuery } from "@tanstack/react-query";
import { CircleAlert } from "lucide-react";
import { useState, type SubmitEvent } from "react";
import { api, ApiError, errorMessage } from "../../api";
import { Button } from "../../components/button";
import { Logo } from "../../components/logo";
import { TextField } from "../../components/text-field";
import { ThemeToggle } from "../../components/theme-toggle";
import { cn } from "../../lib/cn";
import { keys } from "../../lib/query-client";
import { useAuth } from "./auth-context";

type Mode = "login" | "register";

function explain(error: unknown, mode: Mode): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "That username and password do not match.";
    if (error.status === 409) return "That username is taken; pick another one.";
    if (error.status === 403 && mode === "register") return "Registration is closed on this server.";
    if (error.status === 429) {
      return error.retryAfter
        ? `Too many attempts. Try again in ${Math.ceil(error.retryAfter / 60)} min.`
        : error.detail;
    }
  }
  return errorMessage(error);
}

export function LoginScreen() {
  const auth = useAuth();
  const config = useQuery({ queryKey: keys.authConfig, queryFn: () => api.auth.config(), staleTime: 60_000 });
  const registrationOpen = config.data?.registration_open ?? false;
  const [chosen, setMode] = useState<Mode>("login");
  const mode: Mode = registrationOpen ? chosen : "login";
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const credentials = { username: username.trim(), password };
      if (mode === "register") await auth.register(credentials);
      else await auth.login(credentials);
    } catch (caught) {
      setError(explain(caught, mode));
      setBusy(false);
    }
  };

  const switchTo = (next: Mode) => {
    setMode(next);
    setError(null);
  };

  return (
    <div className="relative flex min-h-full flex-col items-center justify-center bg-zinc-50 px-4 py-12 dark:bg-zinc-950">
      <div className="absolute top-3 right-3">
        <ThemeToggle />
      </div>
      <main className="w-full max-w-sm">
        <div className="mb-8 flex flex-col items-center gap-3 text-center">
          <Logo className="size-11" />
          <h1 className="text-2xl font-semibold tracking-tight">
            {mode === "login" ? "Sign in to Warren" : "Create your Warren account"}
          </h1>
          <p className="text-sm text-zinc-600 dark:text-zinc-400">
            Your own agent: it plans, researches and works in a private sandbox.
          </p>
        </div>

        {auth.notice && (
          <div
            role="status"
            className="mb-4 flex gap-2 rounded-lg border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900 dark:border-amber-900/50 dark:bg-amber-950/40 dark:text-amber-200"
          >
            <CircleAlert className="mt-0.5 size-4 shrink-0" aria-hidden />
            <p>{auth.notice}</p>
          </div>
        )}

        <div className="rounded-2xl border border-zinc-200 bg-white p-6 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
          {registrationOpen && (
            <div
              role="tablist"
              aria-label="Account"
              className="mb-5 grid grid-cols-2 rounded-lg bg-zinc-100 p-1 dark:bg-zinc-800"
            >
              {(["login", "register"] as const).map((tab) => (
                <button
                  key={tab}
                  role="tab"
                  type="button"
                  aria-selected={mode === tab}
                  onClick={() => switchTo(tab)}
                  className={cn(
                    "h-8 rounded-md text-sm font-medium transition-colors",
                    mode === tab
                      ? "bg-white text-zinc-900 shadow-sm dark:bg-zinc-950 dark:text-zinc-100"
                      : "text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100",
                  )}
                >
                  {tab === "login" ? "Sign in" : "Register"}
                </button>
              ))}
            </div>
          )}
          <form onSubmit={(event) => void submit(event)} className="flex flex-col gap-4" noValidate={false}>
            <TextField
              label="Username"
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              required
              minLength={mode === "register" ? 3 : 1}
              maxLength={64}
              pattern={mode === "register" ? "[A-Za-z0-9][A-Za-z0-9_.@\\-]*" : undefined}
              hint={mode === "register" ? "3–64 characters: letters, digits, _ . @ -" : undefined}
              value={username}
              onChange={(event) => setUsername(event.target.value)}
              autoFocus
            />
            <TextField
              label="Password"
              name="password"
              type="password"
              autoComplete={mode === "register" ? "new-password" : "current-password"}
              required
              minLength={mode === "register" ? 8 : 1}
              maxLength={1024}
              hint={mode === "register" ? "At least 8 characters." : undefined}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
            />
            {error && (
              <p role="alert" className="text-sm text-red-600 dark:text-red-400">
                {error}
              </p>
            )}
            <Button type="submit" variant="primary" busy={busy} className="mt-1 w-full">
              {mode === "login" ? "Sign in" : "Create account"}
            </Button>
          </form>
        </div>
        {!registrationOpen && config.isSuccess && (
          <p className="mt-4 text-center text-xs text-zinc-500">
            Accounts on this server are created by its administrator.
          </p>
        )}
      </main>
    </div>
  );
}
