// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/errors";
import type { Decision } from "../../api/types";
import { ToastContext, type ToastInput } from "../../components/toast-context";
import { InterruptCard } from "./interrupt-card";
import { reviewsFromState, type PendingReview } from "./interrupts";

afterEach(cleanup);

const lone: PendingReview[] = reviewsFromState([
  {
    id: "i1",
    value: null,
    ns: [],
    action_requests: [
      {
        name: "write_file",
        args: { file_path: "/workspace/a.md", content: "hi" },
        description: "Writes into your workspace",
        tool_call_id: "c1",
      },
    ],
    review_configs: [{ action_name: "write_file", allowed_decisions: ["approve", "edit", "reject"] }],
  },
]);

const pair: PendingReview[] = reviewsFromState([
  {
    id: "i1",
    value: null,
    ns: [],
    action_requests: [
      { name: "execute", args: { command: "ls" }, description: "", tool_call_id: "c1" },
      { name: "write_file", args: { file_path: "/b.md", content: "b" }, description: "", tool_call_id: "c2" },
    ],
    review_configs: [
      { action_name: "execute", allowed_decisions: ["approve", "reject", "respond"] },
      { action_name: "write_file", allowed_decisions: ["approve", "reject"] },
    ],
  },
]);

function setup(reviews: PendingReview[], onSubmit: (decisions: Decision[]) => Promise<void> = () => Promise.resolve()) {
  const toasts: ToastInput[] = [];
  const submit = vi.fn(onSubmit);
  render(
    <ToastContext.Provider value={(toast) => toasts.push(toast)}>
      <InterruptCard reviews={reviews} onSubmit={submit} />
    </ToastContext.Provider>,
  );
  return { submit, toasts };
}

const button = (name: string) => screen.getByRole<HTMLButtonElement>("button", { name });

describe("InterruptCard", () => {
  it("shows what the agent wants to do and approves a lone action at once", async () => {
    const { submit } = setup(lone);
    expect(screen.getByRole("region", { name: "Warren is waiting for your approval" })).toBeTruthy();
    expect(screen.getByText("Writes into your workspace")).toBeTruthy();
    expect(screen.getByText(/\/workspace\/a\.md/)).toBeTruthy();
    // only the decisions the server allows
    const group = screen.getByRole("group", { name: "Decision for Write file" });
    expect([...group.querySelectorAll("button")].map((b) => b.textContent)).toEqual(["Approve", "Edit", "Reject"]);
    await act(async () => {
      fireEvent.click(button("Approve"));
    });
    expect(submit).toHaveBeenCalledWith([{ type: "approve" }]);
  });

  it("edits the arguments as JSON, refusing what does not parse", async () => {
    const { submit } = setup(lone);
    fireEvent.click(button("Edit"));
    const editor = screen.getByLabelText<HTMLTextAreaElement>("Arguments for Write file (JSON)");
    expect(JSON.parse(editor.value)).toEqual({ file_path: "/workspace/a.md", content: "hi" });
    fireEvent.change(editor, { target: { value: '{"file_path": "/workspace/a.md", ' } });
    expect(screen.getByRole("alert").textContent).toContain("not valid JSON");
    expect(editor.getAttribute("aria-invalid")).toBe("true");
    fireEvent.click(button("Run with these arguments"));
    expect(submit).not.toHaveBeenCalled();
    fireEvent.change(editor, { target: { value: '{"file_path": "/workspace/b.md", "content": "bye"}' } });
    expect(screen.queryByRole("alert")).toBeNull();
    await act(async () => {
      fireEvent.click(button("Run with these arguments"));
    });
    expect(submit).toHaveBeenCalledWith([
      { type: "edit", edited_action: { name: "write_file", args: { file_path: "/workspace/b.md", content: "bye" } } },
    ]);
  });

  it("rejects with a message, and can go back", async () => {
    const { submit } = setup(lone);
    fireEvent.click(button("Reject"));
    fireEvent.click(button("Cancel"));
    expect(screen.queryByLabelText(/Why not/)).toBeNull();
    fireEvent.click(button("Reject"));
    fireEvent.change(screen.getByLabelText(/Why not/), { target: { value: "Write it to /tmp instead" } });
    const send = screen.getAllByRole("button", { name: "Reject" }).at(-1);
    await act(async () => {
      if (send) fireEvent.click(send);
    });
    expect(submit).toHaveBeenCalledWith([{ type: "reject", message: "Write it to /tmp instead" }]);
  });

  it("needs a decision for every action before sending them together, in order", async () => {
    const { submit } = setup(pair);
    const send = button("Send decisions");
    expect(send.disabled).toBe(true);
    const [first, second] = screen.getAllByRole("group");
    const inside = (group: HTMLElement | undefined, name: string) =>
      [...(group?.querySelectorAll("button") ?? [])].find((b) => b.textContent === name);
    fireEvent.click(inside(first, "Reply")!);
    fireEvent.click(inside(second, "Approve")!);
    expect(inside(second, "Approve")?.getAttribute("aria-pressed")).toBe("true");
    expect(send.disabled).toBe(false);
    // a reply must say something
    fireEvent.click(send);
    expect(screen.getByRole("alert").textContent).toContain("Write the reply");
    expect(submit).not.toHaveBeenCalled();
    fireEvent.change(screen.getByLabelText("Reply for Run command"), { target: { value: "file1 file2" } });
    await act(async () => {
      fireEvent.click(send);
    });
    expect(submit).toHaveBeenCalledWith([{ type: "respond", message: "file1 file2" }, { type: "approve" }]);
  });

  it("says which subagent asks", () => {
    const [review] = pair;
    render(
      <InterruptCard
        reviews={[{ ...review!, ns: ["task-1"] }]}
        onSubmit={() => Promise.resolve()}
        subagents={new Map([["task-1", "researcher"]])}
      />,
    );
    expect(screen.getAllByText(/asked by researcher/)).toHaveLength(2);
  });

  it("approves everything at once", async () => {
    const { submit } = setup(pair);
    await act(async () => {
      fireEvent.click(button("Approve all"));
    });
    expect(submit).toHaveBeenCalledWith([{ type: "approve" }, { type: "approve" }]);
  });

  it("is disabled while sending, and says why sending failed", async () => {
    let fail: (error: unknown) => void = () => undefined;
    const { submit, toasts } = setup(
      lone,
      () =>
        new Promise<void>((_resolve, reject) => {
          fail = reject;
        }),
    );
    await act(async () => {
      fireEvent.click(button("Approve"));
    });
    expect(submit).toHaveBeenCalledTimes(1);
    expect(button("Approve").disabled).toBe(true);
    expect(button("Reject").disabled).toBe(true);
    fireEvent.click(button("Approve"));
    expect(submit).toHaveBeenCalledTimes(1);
    await act(async () => {
      fail(new ApiError(409, "no_pending_interrupt", "this thread has no pending interrupt to resume"));
      await Promise.resolve();
    });
    expect(toasts).toEqual([
      { tone: "error", title: "Your decision was not sent", detail: "this thread has no pending interrupt to resume" },
    ]);
    expect(button("Approve").disabled).toBe(false);
  });
});
