import { Monitor, Moon, Sun } from "lucide-react";
import { useTheme, type ThemeChoice } from "../lib/theme";
import { IconButton } from "./button";

const order: ThemeChoice[] = ["system", "light", "dark"];
const labels: Record<ThemeChoice, string> = {
  system: "Theme: system (switch to light)",
  light: "Theme: light (switch to dark)",
  dark: "Theme: dark (switch to system)",
};

/** Cycles system → light → dark. */
export function ThemeToggle() {
  const [theme, setTheme] = useTheme();
  const nextTheme = order[(order.indexOf(theme) + 1) % order.length] ?? "system";
  return (
    <IconButton label={labels[theme]} onClick={() => setTheme(nextTheme)}>
      {theme === "light" ? (
        <Sun className="size-4" />
      ) : theme === "dark" ? (
        <Moon className="size-4" />
      ) : (
        <Monitor className="size-4" />
      )}
    </IconButton>
  );
}
