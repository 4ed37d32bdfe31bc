import { describe, expect, it } from "vitest";
import { readSse, SseDecoder, type SseMessage } from "./sse";

const encoder = new TextEncoder();

function decodeAll(chunks: (string | Uint8Array)[]): SseMessage[] {
  const decoder = new SseDecoder();
  const out: SseMessage[] = [];
  for (const chunk of chunks) {
    out.push(...decoder.decode(typeof chunk === "string" ? encoder.encode(chunk) : chunk));
  }
  out.push(...decoder.end());
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

/** Every way of cutting `bytes` in two. */
function allSplits(bytes: Uint8Array): Uint8Array[][] {
  const splits: Uint8Array[][] = [];
  for (let i = 0; i <= bytes.length; i++) splits.push([bytes.slice(0, i), bytes.slice(i)]);
  return splits;
}

describe("SseDecoder", () => {
  it("parses id, event and data", () => {
    expect(decodeAll(['id: 1\nevent: message\ndata: {"a":1}\n\n'])).toEqual([
      { id: "1", event: "message", data: '{"a":1}' },
    ]);
  });

  it("defaults the event type to `message`", () => {
    expect(decodeAll(["data: hi\n\n"])).toEqual([{ id: "", event: "message", data: "hi" }]);
  });

  it("joins multi-line data with \\n", () => {
    expect(decodeAll(["data: one\ndata: two\ndata:\ndata:  three\n\n"])[0]?.data).toBe("one\ntwo\n\n three");
  });

  it("removes one optional space after the colon, and only one", () => {
    expect(decodeAll(["data:no-space\n\n", "data:  two-spaces\n\n"]).map((m) => m.data)).toEqual([
      "no-space",
      " two-spaces",
    ]);
  });

  it("treats a field without a colon as the field name with an empty value", () => {
    expect(decodeAll(["data\n\n"])).toEqual([{ id: "", event: "message", data: "" }]);
    // `data` twice without colons: two empty lines joined → "\n"
    expect(decodeAll(["data\ndata\n\n"])[0]?.data).toBe("\n");
    // `event` alone resets the type to the default
    expect(decodeAll(["event\ndata: x\n\n"])[0]?.event).toBe("message");
  });

  it("accepts \\r\\n, \\r and \\n line endings, mixed", () => {
    const expected = [
      { id: "7", event: "a", data: "x\ny" },
      { id: "8", event: "b", data: "z" },
    ];
    expect(decodeAll(["id: 7\r\nevent: a\r\ndata: x\r\ndata: y\r\n\r\nid: 8\nevent: b\ndata: z\n\n"])).toEqual(
      expected,
    );
    expect(decodeAll(["id: 7\revent: a\rdata: x\rdata: y\r\rid: 8\revent: b\rdata: z\r\r"])).toEqual(expected);
    expect(decodeAll(["id: 7\r\nevent: a\rdata: x\ndata: y\r\n\nid: 8\revent: b\r\ndata: z\n\r"])).toEqual(expected);
  });

  it("keeps the last event id across events until a new one arrives", () => {
    const out = decodeAll(["id: 5\ndata: a\n\ndata: b\n\nid: 6\ndata: c\n\n"]);
    expect(out.map((m) => m.id)).toEqual(["5", "5", "6"]);
  });

  it("lets an empty id field reset the id, and ignores an id containing NUL", () => {
    const out = decodeAll(["id: 5\ndata: a\n\nid\ndata: b\n\nid: 9\u00000\ndata: c\n\n"]);
    expect(out.map((m) => m.id)).toEqual(["5", "", ""]);
  });

  it("starts from a given last event id", () => {
    const decoder = new SseDecoder("41");
    expect(decoder.decode(encoder.encode("data: x\n\n"))[0]?.id).toBe("41");
  });

  it("ignores comments and keep-alive pings", () => {
    expect(decodeAll([": ping\n\n:another\ndata: real\n: inside\n\n: ping\n\n"])).toEqual([
      { id: "", event: "message", data: "real" },
    ]);
  });

  it("dispatches nothing for a block without data, and resets its event type", () => {
    expect(decodeAll(["event: lonely\n\ndata: x\n\n"])).toEqual([{ id: "", event: "message", data: "x" }]);
  });

  it("ignores unknown fields and reads retry", () => {
    expect(decodeAll(["foo: bar\nretry: 3000\ndata: x\n\n"])).toEqual([
      { id: "", event: "message", data: "x", retry: 3000 },
    ]);
    expect(decodeAll(["retry: soon\ndata: x\n\n"])[0]?.retry).toBeUndefined();
  });

  it("drops an event cut off by the end of the stream", () => {
    expect(decodeAll(["data: complete\n\ndata: incomplete\n"])).toEqual([
      { id: "", event: "message", data: "complete" },
    ]);
  });

  it("handles a chunk boundary at every byte, including inside CRLF and UTF-8", () => {
    const text = 'id: 1716900000000-3\r\nevent: message\r\ndata: {"content":"héllo 🐇 世界"}\r\n\r\n: ping\r\n\r\n';
    const bytes = encoder.encode(text);
    const expected = [{ id: "1716900000000-3", event: "message", data: '{"content":"héllo 🐇 世界"}' }];
    for (const chunks of allSplits(bytes)) expect(decodeAll(chunks)).toEqual(expected);
  });

  it("handles one byte at a time", () => {
    const bytes = encoder.encode("id: 2\rdata: a🐇\r\rdata: b\r\n\r\n");
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    expect(decodeAll(chunks)).toEqual([
      { id: "2", event: "message", data: "a🐇" },
      { id: "2", event: "message", data: "b" },
    ]);
  });

  it("does not merge a CR at the end of a chunk with a later, non-LF line", () => {
    expect(decodeAll(["data: a\r", "\r", "data: b\n\n"])).toEqual([
      { id: "", event: "message", data: "a" },
      { id: "", event: "message", data: "b" },
    ]);
    // `\r` then `\n` in separate chunks is one line break, not an empty line
    expect(decodeAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"])).toEqual([{ id: "", event: "message", data: "a\nb" }]);
  });

  it("strips a leading byte-order mark", () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    expect(decodeAll([bom, "data: x\n\n"])).toEqual([{ id: "", event: "message", data: "x" }]);
  });
});

describe("readSse", () => {
  it("reads a byte stream to the end", async () => {
    const bytes = encoder.encode("id: 1\nevent: a\ndata: 1\n\n: ping\n\nid: 2\nevent: b\ndata: 2\n\n");
    const chunks = [bytes.slice(0, 5), bytes.slice(5, 23), bytes.slice(23)];
    const out: SseMessage[] = [];
    for await (const message of readSse(streamOf(chunks))) out.push(message);
    expect(out).toEqual([
      { id: "1", event: "a", data: "1" },
      { id: "2", event: "b", data: "2" },
    ]);
  });

  it("cancels the stream when the consumer stops early", async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("data: 1\n\ndata: 2\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const message of readSse(stream)) {
      expect(message.data).toBe("1");
      break;
    }
    expect(cancelled).toBe(true);
  });
});
