/**
 * A streaming parser for `text/event-stream`, following the WHATWG HTML spec
 * ("Server-sent events" → "Interpreting an event stream").
 *
 * It works on raw bytes, so a chunk may end anywhere: inside a multi-byte UTF-8 character,
 * between the `\r` and `\n` of a CRLF, or in the middle of a field name.
 */

export interface SseMessage {
  /** The event type; `"message"` when the event had no `event:` field. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last event id seen on this stream so far (it persists across events); `""` if none. */
  id: string;
  /** A reconnection delay in milliseconds, when the stream set one with `retry:`. */
  retry?: number;
}

const LF = 0x0a;
const CR = 0x0d;

/** Incremental decoder (the UTF-8 decoder drops a leading byte-order mark, as the spec says): feed it chunks of bytes, get back the complete events. */
export class SseDecoder {
  private readonly text = new TextDecoder("utf-8");
  private buffer = "";
  private skipLeadingLF = false;
  private data = "";
  private hasData = false;
  private eventType = "";
  private retry: number | undefined;
  lastEventId: string;

  constructor(initialLastEventId = "") {
    this.lastEventId = initialLastEventId;
  }

  /** Decode one chunk of bytes; returns the events it completed, in order. */
  decode(chunk: Uint8Array): SseMessage[] {
    return this.push(this.text.decode(chunk, { stream: true }));
  }

  /**
   * Flush at the end of the stream. An event not terminated by a blank line is dropped,
   * as the spec requires; a truncated UTF-8 sequence becomes U+FFFD.
   */
  end(): SseMessage[] {
    const out = this.push(this.text.decode());
    this.buffer = "";
    this.data = "";
    this.hasData = false;
    this.eventType = "";
    return out;
  }

  /** Feed already-decoded text (useful for tests and for string sources). */
  push(text: string): SseMessage[] {
    const out: SseMessage[] = [];
    if (text === "") return out;
    let from = 0;
    // A CR that ended the previous chunk may be followed by this chunk's LF: one line break.
    if (this.skipLeadingLF) {
      this.skipLeadingLF = false;
      if (text.charCodeAt(0) === LF) from = 1;
    }
    const input = this.buffer + text.slice(from);
    let lineStart = 0;
    for (let i = 0; i < input.length; i++) {
      const code = input.charCodeAt(i);
      if (code !== LF && code !== CR) continue;
      this.line(input.slice(lineStart, i), out);
      if (code === CR) {
        if (i + 1 === input.length) this.skipLeadingLF = true;
        else if (input.charCodeAt(i + 1) === LF) i++;
      }
      lineStart = i + 1;
    }
    this.buffer = input.slice(lineStart);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* ":" */) return; // a comment, e.g. `: ping`
    const colon = line.indexOf(":");
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = "";
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 0x20 /* " " */) value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data = this.hasData ? `${this.data}\n${value}` : value;
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.lastEventId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(out: SseMessage[]): void {
    if (!this.hasData) {
      // No data: nothing is dispatched, but the event type resets (the id persists).
      this.eventType = "";
      return;
    }
    const message: SseMessage = {
      event: this.eventType === "" ? "message" : this.eventType,
      data: this.data,
      id: this.lastEventId,
    };
    if (this.retry !== undefined) message.retry = this.retry;
    out.push(message);
    this.data = "";
    this.hasData = false;
    this.eventType = "";
  }
}

/**
 * Read a byte stream (e.g. `response.body`) as server-sent events. Stopping the iteration
 * early (break, return, throw) cancels the stream.
 */
export class SseIdleError extends Error {
  override readonly name = "SseIdleError";
}

function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number): Promise<ReadableStreamReadResult<T>> {
  if (!(ms > 0)) return reader.read();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const idle = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SseIdleError(`no bytes for ${ms} ms`)), ms);
  });
  return Promise.race([reader.read(), idle]).finally(() => clearTimeout(timer));
}

export async function* readSse(
  stream: ReadableStream<Uint8Array>,
  initialLastEventId = "",
  /** Fail with `SseIdleError` when nothing (not even a `: ping`) arrives for this long; 0: never. */
  idleMs = 0,
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new SseDecoder(initialLastEventId);
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await readWithin(reader, idleMs);
      if (done) {
        finished = true;
        yield* decoder.end();
        return;
      }
      yield* decoder.decode(value);
    }
  } finally {
    if (!finished) {
      // The consumer stopped early or the read failed: release the connection.
      await reader.cancel().catch(() => undefined);
    }
    reader.releaseLock();
  }
}
