/** Formatting for people: relative times, sizes, token counts. */

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });
const dateShort = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const plain = new Intl.NumberFormat();

export function timeAgo(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const seconds = Math.round((then - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (abs < 86_400) return relative.format(Math.round(seconds / 3600), "hour");
  if (abs < 7 * 86_400) return relative.format(Math.round(seconds / 86_400), "day");
  return dateShort.format(then);
}

export function fullDate(iso: string | null): string {
  if (!iso) return "never";
  const then = Date.parse(iso);
  return Number.isNaN(then) ? "" : dateTime.format(then);
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? "TB"}`;
}

export function tokens(count: number): string {
  return count < 10_000 ? plain.format(count) : compact.format(count);
}

/** Whether the time has passed (`null`: never). */
export function isPast(iso: string | null, now = Date.now()): boolean {
  return iso !== null && Date.parse(iso) < now;
}
