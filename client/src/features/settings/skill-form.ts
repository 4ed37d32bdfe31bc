/** Checks of the skill install form, before the server checks again. */

const SHA256 = /^[0-9a-f]{64}$/i;

/** `text` as an http(s) URL, else `null`. */
export function httpUrl(text: string): URL | null {
  try {
    const url = new URL(text.trim());
    return url.protocol === "https:" || url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

/** Why the form cannot be sent as typed, per field. */
export function installProblem(url: string, sha256: string): { url?: string; sha256?: string } {
  const problems: { url?: string; sha256?: string } = {};
  if (!httpUrl(url)) problems.url = "Enter the full address of a .zip, starting with https://";
  if (sha256.trim() && !SHA256.test(sha256.trim())) {
    problems.sha256 = "A SHA-256 checksum is 64 hexadecimal characters.";
  }
  return problems;
}
