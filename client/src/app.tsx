import { QueryClientProvider } from "@tanstack/react-query";
import { CloudOff } from "lucide-react";
import { useState } from "react";
import { AppShell } from "./app-shell";
import { Button } from "./components/button";
import { Logo } from "./components/logo";
import { Spinner } from "./components/spinner";
import { Toaster } from "./components/toaster";
import { useAuth } from "./features/auth/auth-context";
import { AuthProvider } from "./features/auth/auth-provider";
import { LoginScreen } from "./features/auth/login-screen";
import { createQueryClient } from "./lib/query-client";

function Gate() {
  const auth = useAuth();
  if (auth.status === "loading") {
    return (
      <div className="flex h-full flex-col items-center justify-center gap-4">
        <Logo className="size-10" />
        <Spinner className="size-5 text-zinc-400" label="Loading" />
      </div>
    );
  }
  if (auth.status === "unreachable") {
    return (
      <div className="flex h-full flex-col items-center justify-center gap-3 p-6 text-center">
        <CloudOff className="size-8 text-zinc-400" aria-hidden />
        <p className="text-lg font-medium">Warren is not answering</p>
        <p className="max-w-sm text-sm text-zinc-500">
          The server could not be reached. Check that it is running, then try again.
        </p>
        <Button variant="primary" onClick={auth.retry}>
          Try again
        </Button>
      </div>
    );
  }
  if (auth.status === "signed-out") return <LoginScreen />;
  return <AppShell />;
}

export function App() {
  const [queryClient] = useState(createQueryClient);
  return (
    <QueryClientProvider client={queryClient}>
      <Toaster>
        <AuthProvider>
          <Gate />
        </AuthProvider>
      </Toaster>
    </QueryClientProvider>
  );
}
