/** The typed error every API call throws: an HTTP status, the server's code and its sentence. */

import type { ErrorBody } from "./types";

export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    /** The HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The server's machine-readable code, e.g. `thread_busy`. */
    readonly code: string,
    /** A sentence for people. */
    readonly detail: string,
    /** Seconds to wait, from `Retry-After` (429). */
    readonly retryAfter?: number,
  ) {
    super(detail);
  }

  /** Whether retrying the same request later may succeed (network trouble, 5xx, 429). */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  /** Read an error response (`{"error", "detail"}`; anything else gets a generic sentence). */
  static async fromResponse(response: Response): Promise<ApiError> {
    let code = `http_${response.status}`;
    let detail = statusSentence(response.status);
    try {
      const body = (await response.json()) as Partial<ErrorBody> | null;
      if (body && typeof body.error === "string") code = body.error;
      if (body && typeof body.detail === "string" && body.detail) detail = body.detail;
    } catch {
      // not JSON (a proxy's error page): keep the generic sentence
    }
    const retry = Number(response.headers.get("Retry-After"));
    return new ApiError(response.status, code, detail, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }

  static network(cause: unknown): ApiError {
    const error = new ApiError(0, "network_error", "Could not reach the Warren server.");
    (error as { cause?: unknown }).cause = cause;
    return error;
  }
}

function statusSentence(status: number): string {
  if (status === 401) return "You are signed out.";
  if (status === 403) return "You are not allowed to do that.";
  if (status === 404) return "Not found.";
  if (status === 429) return "Too many attempts; try again in a moment.";
  if (status >= 500) return "The server failed to handle this request.";
  return `The request failed (HTTP ${status}).`;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** A readable sentence for any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}
