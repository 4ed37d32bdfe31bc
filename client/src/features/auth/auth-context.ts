import { createContext, useContext } from "react";
import type { Credentials, UserPublic } from "../../api/types";

export type AuthStatus = "loading" | "signed-in" | "signed-out" | "unreachable";

export interface AuthValue {
  status: AuthStatus;
  user: UserPublic | null;
  /** Why the user is looking at the login screen, when it was not their choice. */
  notice: string | null;
  login: (credentials: Credentials) => Promise<void>;
  register: (credentials: Credentials) => Promise<void>;
  logout: () => Promise<void>;
  retry: () => void;
}

export const AuthContext = createContext<AuthValue | null>(null);

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth() needs an <AuthProvider>");
  return value;
}

/** The signed-in user (only call below the signed-in gate). */
export function useUser(): UserPublic {
  const { user } = useAuth();
  if (!user) throw new Error("useUser() called while signed out");
  return user;
}
