// @vitest-environment happy-dom
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api";
import { ApiError } from "../../api/errors";
import type { SkillList, SkillPublic } from "../../api/types";
import { ToastContext, type ToastInput } from "../../components/toast-context";
import { installProblem } from "./skill-form";
import { SkillsSection } from "./skills-section";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const SHA = "a".repeat(64);
const writer: SkillPublic = {
  name: "report-writer",
  description: "Writes reports in the house style.",
  source_url: "https://skills.example.com/packs/report-writer.zip",
  sha256: SHA,
  size: 2048,
  installed_at: "2026-05-01T10:00:00Z",
};

/** A server holding `skills` in memory, behind the real endpoint functions' names. */
function fakeServer(initial: SkillPublic[]) {
  let skills = [...initial];
  const list = vi
    .spyOn(api.skills, "list")
    .mockImplementation(() => Promise.resolve({ data: skills, count: skills.length } satisfies SkillList));
  const install = vi.spyOn(api.skills, "install");
  const remove = vi.spyOn(api.skills, "remove").mockImplementation((name) => {
    skills = skills.filter((skill) => skill.name !== name);
    return Promise.resolve(undefined);
  });
  const add = (skill: SkillPublic) => {
    skills = [...skills, skill];
  };
  return { list, install, remove, add };
}

function setup() {
  const toasts: ToastInput[] = [];
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <ToastContext.Provider value={(toast) => toasts.push(toast)}>
        <SkillsSection />
      </ToastContext.Provider>
    </QueryClientProvider>,
  );
  return { toasts };
}

describe("SkillsSection", () => {
  it("lists the installed skills with their description, date and source", async () => {
    fakeServer([writer]);
    setup();
    const list = await screen.findByRole("list", { name: "Installed skills" });
    expect(within(list).getByText("report-writer")).toBeTruthy();
    expect(within(list).getByText("Writes reports in the house style.")).toBeTruthy();
    expect(within(list).getByText(/installed .*2026/)).toBeTruthy();
    const link = within(list).getByRole("link");
    expect(link.getAttribute("href")).toBe(writer.source_url);
    expect(link.getAttribute("rel")).toContain("noopener");
  });

  it("says when there are none", async () => {
    fakeServer([]);
    setup();
    expect(await screen.findByText("No skills installed yet.")).toBeTruthy();
  });

  it("installs from a URL with an optional checksum, then lists the new skill", async () => {
    const server = fakeServer([]);
    server.install.mockImplementation((body) => {
      const skill = { ...writer, name: "sketcher", source_url: body.url };
      server.add(skill);
      return Promise.resolve(skill);
    });
    const { toasts } = setup();
    await screen.findByText("No skills installed yet.");
    fireEvent.change(screen.getByLabelText("Skill archive URL"), {
      target: { value: " https://skills.example.com/sketcher.zip " },
    });
    fireEvent.change(screen.getByLabelText("SHA-256 (optional)"), { target: { value: SHA.toUpperCase() } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Install skill" }));
    });
    expect(server.install).toHaveBeenCalledWith({ url: "https://skills.example.com/sketcher.zip", sha256: SHA });
    expect(await screen.findByText("sketcher")).toBeTruthy();
    expect(toasts).toEqual([expect.objectContaining({ tone: "success", title: "Installed “sketcher”" })]);
    expect(screen.getByLabelText<HTMLInputElement>("Skill archive URL").value).toBe("");
  });

  it("checks the form before asking the server, and shows the server's refusal", async () => {
    const server = fakeServer([]);
    server.install.mockRejectedValue(new ApiError(422, "invalid_skill", "the archive has no SKILL.md at its root"));
    setup();
    await screen.findByText("No skills installed yet.");
    const url = screen.getByLabelText("Skill archive URL");
    fireEvent.change(url, { target: { value: "file:///etc/passwd" } });
    fireEvent.change(screen.getByLabelText("SHA-256 (optional)"), { target: { value: "abc" } });
    fireEvent.click(screen.getByRole("button", { name: "Install skill" }));
    expect(server.install).not.toHaveBeenCalled();
    expect(screen.getByText("Enter the full address of a .zip, starting with https://")).toBeTruthy();
    expect(screen.getByText("A SHA-256 checksum is 64 hexadecimal characters.")).toBeTruthy();
    expect(url.getAttribute("aria-invalid")).toBe("true");

    fireEvent.change(url, { target: { value: "https://skills.example.com/broken.zip" } });
    fireEvent.change(screen.getByLabelText("SHA-256 (optional)"), { target: { value: "" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Install skill" }));
    });
    expect(server.install).toHaveBeenCalledWith({ url: "https://skills.example.com/broken.zip" });
    expect((await screen.findByRole("alert")).textContent).toBe(
      "Could not install the skill: the archive has no SKILL.md at its root",
    );
  });

  it("removes a skill after confirming", async () => {
    const server = fakeServer([writer]);
    setup();
    fireEvent.click(await screen.findByRole("button", { name: "Remove report-writer" }));
    const dialog = screen.getByRole("dialog", { name: "Remove this skill?" });
    expect(server.remove).not.toHaveBeenCalled();
    await act(async () => {
      fireEvent.click(within(dialog).getByRole("button", { name: "Remove" }));
    });
    expect(server.remove).toHaveBeenCalledWith("report-writer");
    await waitFor(() => expect(screen.getByText("No skills installed yet.")).toBeTruthy());
  });

  it("says why a removal failed", async () => {
    const server = fakeServer([writer]);
    server.remove.mockRejectedValue(new ApiError(404, "not_found", "no skill named report-writer"));
    const { toasts } = setup();
    fireEvent.click(await screen.findByRole("button", { name: "Remove report-writer" }));
    await act(async () => {
      fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Remove" }));
    });
    await waitFor(() =>
      expect(toasts).toEqual([
        { tone: "error", title: "Could not remove the skill", detail: "no skill named report-writer" },
      ]),
    );
  });
});

describe("installProblem", () => {
  it("accepts http(s) URLs and a 64-hex checksum only", () => {
    expect(installProblem("https://a.example/x.zip", "")).toEqual({});
    expect(installProblem("http://127.0.0.1:9000/x.zip", "F".repeat(64))).toEqual({});
    expect(Object.keys(installProblem("ftp://a.example/x.zip", "xyz"))).toEqual(["url", "sha256"]);
    expect(installProblem("not a url", "")).toHaveProperty("url");
  });
});
