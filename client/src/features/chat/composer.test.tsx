// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Composer } from "./composer";

beforeAll(() => {
  // happy-dom may lack matchMedia; the composer asks it whether to autofocus
  Object.defineProperty(window, "matchMedia", {
    configurable: true,
    value: (query: string) => ({
      matches: false,
      media: query,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    }),
  });
});
afterEach(cleanup);

function setup(props: Partial<Parameters<typeof Composer>[0]> = {}) {
  const handlers = { onChange: vi.fn(), onSend: vi.fn(), onStop: vi.fn() };
  render(<Composer value="hello" live={false} {...handlers} {...props} />);
  return { ...handlers, box: screen.getByLabelText("Message Warren") };
}

describe("Composer", () => {
  it("sends on Enter, not on Shift+Enter", () => {
    const { box, onSend } = setup();
    act(() => {
      fireEvent.keyDown(box, { key: "Enter", shiftKey: true });
    });
    expect(onSend).not.toHaveBeenCalled();
    act(() => {
      fireEvent.keyDown(box, { key: "Enter" });
    });
    expect(onSend).toHaveBeenCalledTimes(1);
  });

  it("does not send an empty message", () => {
    const { box, onSend } = setup({ value: "   " });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Send (Enter)" })).toHaveProperty("disabled", true);
  });

  it("stops on Escape and offers a Stop button while a run is live", () => {
    const { box, onStop, onSend } = setup({ live: true });
    fireEvent.keyDown(box, { key: "Enter" });
    expect(onSend).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: "Escape" });
    expect(onStop).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole("button", { name: "Stop (Esc)" }));
    expect(onStop).toHaveBeenCalledTimes(2);
  });
});
