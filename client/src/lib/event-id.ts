/**
 * Ordering of run event ids. Ids are opaque strings that grow monotonically within a run:
 * `"12"` (embedded mode) or `"1716900000000-3"` (Redis streams). They compare as sequences
 * of integers split on `-`, of any size (no precision loss).
 */

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

const DIGITS = /^\d+$/;

/** Negative if `a` comes before `b`, positive if after, 0 if they are the same id. */
export function compareEventIds(a: string, b: string): number {
  const left = a.split("-");
  const right = b.split("-");
  const n = Math.max(left.length, right.length);
  for (let i = 0; i < n; i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined) return -1; // "5" < "5-1"
    if (y === undefined) return 1;
    const order = DIGITS.test(x) && DIGITS.test(y) ? compareDigits(x, y) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return order;
  }
  return 0;
}

/** Whether `id` was already applied, given the last applied id (`null`: nothing yet). */
export function isAtOrBefore(id: string, last: string | null): boolean {
  return last !== null && compareEventIds(id, last) <= 0;
}
