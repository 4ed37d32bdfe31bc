import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, apiClient, ApiError } from "../../api";
import type { Credentials, UserPublic } from "../../api/types";
import { clearAllDrafts, forgetCachedDrafts } from "../chat/drafts";
import { AuthContext, type AuthStatus, type AuthValue } from "./auth-context";

interface AuthState {
  status: AuthStatus;
  user: UserPublic | null;
  notice: string | null;
}

const SESSION_ENDED = "Your session has ended. Sign in again to pick up where you left off; your drafts are kept.";

/**
 * The session: restored from stored tokens on load, followed across tabs (a sign-out or
 * sign-in in another tab applies here), and ended when a refresh is refused.
 */
export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<AuthState>(() => ({
    status: apiClient.tokens.read() ? "loading" : "signed-out",
    user: null,
    notice: null,
  }));
  const loading = useRef<Promise<void> | null>(null);
  const leaving = useRef(false);

  const userId = useRef<string | null>(null);
  const loadMe = useCallback((): Promise<void> => {
    loading.current ??= (async () => {
      try {
        const user = await api.auth.me();
        if (userId.current !== null && userId.current !== user.id) queryClient.clear(); // another account
        userId.current = user.id;
        setState({ status: "signed-in", user, notice: null });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          setState((s) => ({ status: "signed-out", user: null, notice: s.notice }));
        } else {
          // a blip while already signed in (e.g. the /me after a token refresh) is not an outage
          setState((s) => (s.status === "signed-in" ? s : { ...s, status: "unreachable" }));
        }
      } finally {
        loading.current = null;
      }
    })();
    return loading.current;
  }, [queryClient]);

  useEffect(() => {
    if (apiClient.tokens.read()) void loadMe();
  }, [loadMe]);

  useEffect(() => {
    apiClient.setSignedOutHandler(() => {
      const notice = leaving.current ? null : SESSION_ENDED;
      leaving.current = false;
      queryClient.clear();
      setState({ status: "signed-out", user: null, notice });
    });
    const unsubscribe = apiClient.tokens.subscribe(() => {
      const tokens = apiClient.tokens.read();
      if (!tokens) {
        // signed out in another tab: forget this account's cached data here too
        queryClient.clear();
        forgetCachedDrafts();
        setState((s) => (s.status === "signed-in" ? { status: "signed-out", user: null, notice: null } : s));
        return;
      }
      void loadMe(); // signed in here or in another tab; harmless when already signed in
    });
    return () => {
      unsubscribe();
      apiClient.setSignedOutHandler(undefined);
    };
  }, [loadMe, queryClient]);

  const login = useCallback(
    async (credentials: Credentials) => {
      await api.auth.login(credentials);
      await loadMe();
    },
    [loadMe],
  );

  const register = useCallback(async (credentials: Credentials) => {
    const response = await api.auth.register(credentials);
    setState({ status: "signed-in", user: response.user, notice: null });
  }, []);

  const logout = useCallback(async () => {
    leaving.current = true;
    clearAllDrafts();
    try {
      await api.auth.logout();
    } catch {
      // signed out locally all the same
    }
  }, []);

  const retry = useCallback(() => {
    setState((s) => ({ ...s, status: "loading" }));
    void loadMe();
  }, [loadMe]);

  const value = useMemo<AuthValue>(
    () => ({ ...state, login, register, logout, retry }),
    [state, login, register, logout, retry],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
