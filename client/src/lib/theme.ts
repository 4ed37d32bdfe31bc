/** Light, dark, or follow the system (`prefers-color-scheme`); the choice is kept per browser. */

import { useCallback, useSyncExternalStore } from "react";
import { readText, writeText } from "./storage";

export type ThemeChoice = "system" | "light" | "dark";
const KEY = "warren.theme";
const CHANGE = "warren:theme";
const media = () => window.matchMedia("(prefers-color-scheme: dark)");

function choice(): ThemeChoice {
  const saved = readText("local", KEY);
  return saved === "light" || saved === "dark" ? saved : "system";
}

function apply(): void {
  const selected = choice();
  const dark = selected === "dark" || (selected === "system" && media().matches);
  document.documentElement.classList.toggle("dark", dark);
  document.documentElement.style.colorScheme = dark ? "dark" : "light";
}

function subscribe(listener: () => void): () => void {
  const onChange = () => {
    apply();
    listener();
  };
  const query = media();
  query.addEventListener("change", onChange);
  window.addEventListener(CHANGE, onChange);
  window.addEventListener("storage", onChange);
  return () => {
    query.removeEventListener("change", onChange);
    window.removeEventListener(CHANGE, onChange);
    window.removeEventListener("storage", onChange);
  };
}

export function useTheme(): [ThemeChoice, (next: ThemeChoice) => void] {
  const current = useSyncExternalStore(subscribe, choice, () => "system" as const);
  const set = useCallback((next: ThemeChoice) => {
    writeText("local", KEY, next);
    window.dispatchEvent(new Event(CHANGE));
  }, []);
  return [current, set];
}
