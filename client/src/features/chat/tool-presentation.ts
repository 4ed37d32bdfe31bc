/** How tool calls read to people: a label per known tool and a one-line summary of the arguments. */

import type { ToolCallView } from "./stream-reducer";

const LABELS: Record<string, string> = {
  task: "Subagent",
  write_todos: "Plan",
  ls: "List files",
  read_file: "Read file",
  write_file: "Write file",
  edit_file: "Edit file",
  glob: "Find files",
  grep: "Search files",
  execute: "Run command",
  web_search: "Web search",
  fetch_url: "Fetch page",
  generate_download_url: "Download link",
};

export function toolLabel(name: string): string {
  return LABELS[name] ?? name.replace(/_/g, " ");
}

const SUMMARY_KEYS = ["command", "file_path", "path", "pattern", "query", "url", "description", "subagent_type"];

function partialArgs(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** A short line saying what the call is about (its command, path, query…). */
export function toolSummary(tool: Pick<ToolCallView, "name" | "args" | "argsText">): string {
  const args = tool.args ?? partialArgs(tool.argsText);
  if (!args) return "";
  if (tool.name === "write_todos" && Array.isArray(args.todos)) return `${args.todos.length} steps`;
  for (const key of SUMMARY_KEYS) {
    const value = args[key];
    if (typeof value === "string" && value.trim()) return value.trim().split("\n")[0] ?? "";
  }
  const first = Object.values(args).find((value) => typeof value === "string");
  return typeof first === "string" ? (first.split("\n")[0] ?? "") : "";
}
