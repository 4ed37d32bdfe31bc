// The web client end to end, in headless Chromium driven by playwright-core, against a real
// Warren and the scripted model that tests/e2e/test_browser.py starts. It prints one line per
// step, saves screenshots of the main screens, and exits non-zero on the first failure.
//
//   WARREN_URL=http://127.0.0.1:8000 CHROMIUM=/usr/bin/chromium SCREENSHOTS=out \
//     UPLOAD_FILE=data.csv SKILL_URL=http://127.0.0.1:9000/skill.zip node e2e/browser.mjs
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = required("WARREN_URL");
const executablePath = required("CHROMIUM");
const screenshots = required("SCREENSHOTS");
const uploadFile = required("UPLOAD_FILE");
const skillUrl = required("SKILL_URL");
const TIMEOUT = 30_000;

// What the scripted model says (kept in step with tests/e2e/test_browser.py).
const HEADING = "Sunny-day picnic plan";
const LAST_LINE = "Enjoy the picnic, and bring a blanket.";
const STORY_START = "Once upon a time";
const COMMAND = "tail -n 1 /workspace/picnic.md"; // the command that needs approval
const APPROVED = "Added grapes to the picnic list.";
const SKILL = "picnic-planner";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function step(name) {
  console.log(`step: ${name}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

mkdirSync(screenshots, { recursive: true });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 820 } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const problems = [];
page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
page.on("console", (message) => {
  if (message.type() === "error" && !message.text().includes("Failed to load resource")) {
    problems.push(`console error: ${message.text()}`);
  }
});
const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: false });
const composer = () => page.getByLabel("Message Warren");
const dismissToasts = async () => {
  const dismiss = page.getByRole("button", { name: "Dismiss" });
  while ((await dismiss.count()) > 0) await dismiss.first().click();
};

try {
  step("register");
  await page.goto(url);
  await page.getByRole("tab", { name: "Register" }).click();
  await page.getByLabel("Username").fill("e2e-user");
  await page.getByLabel("Password").fill("correct horse battery staple");
  await shot("01-register");
  await page.getByRole("button", { name: "Create account" }).click();

  step("new thread: the empty state, then send");
  await composer().waitFor();
  await shot("02-empty-state");
  await composer().fill("Plan a picnic and write it down.");
  await composer().press("Enter");
  await page.waitForURL(/\/threads\//);

  step("streamed answer with a tool card and todos");
  await page.getByRole("region", { name: "Plan" }).getByText("Pack the basket").waitFor();
  await page.getByText("Write file").first().waitFor();
  await page.getByRole("heading", { name: HEADING }).waitFor();
  check(!(await page.getByText(LAST_LINE).isVisible()), "the answer finished before the reload");

  step("reload mid-run: it resumes to the same final answer");
  await page.reload();
  await page.getByText(LAST_LINE).waitFor();
  check((await page.getByText(LAST_LINE).count()) === 1, "the final line appears more than once");
  check((await page.getByRole("heading", { name: HEADING }).count()) === 1, "duplicated heading");
  await page.getByText("Sandbox ready").waitFor();
  await shot("03-chat");

  step("stop a second run");
  await composer().fill("Now tell me a very long story.");
  await composer().press("Enter");
  await page.getByText(STORY_START).waitFor();
  await page.getByRole("button", { name: "Stop (Esc)" }).click();
  await page.getByText("Stopped. Warren did not finish this task.").waitFor();
  await shot("04-stopped");

  step("approve an interrupt: the card survives a reload, then the command runs");
  await composer().fill("Add grapes to the list.");
  await composer().press("Enter");
  const approval = page.getByRole("region", { name: "Warren is waiting for your approval" });
  await approval.getByText(COMMAND).waitFor();
  await page.reload();
  await approval.getByText(COMMAND).waitFor();
  await page.getByRole("navigation").getByText("Needs approval").waitFor();
  await page.waitForTimeout(300); // the card fades in
  await shot("05-approval");
  await approval.getByRole("button", { name: "Approve" }).click();
  await page.getByText(APPROVED).waitFor();
  await approval.waitFor({ state: "detached" });
  // neither the sidebar nor the command's card waits any more
  await page.getByText("Needs approval").first().waitFor({ state: "detached" });

  step("upload a file and see it in the files panel");
  await page.getByRole("button", { name: "Show files" }).click();
  const files = page.getByRole("complementary", { name: "Files" });
  await files.getByText("picnic.md").waitFor(); // written by the agent in the first run
  await files.locator('input[type="file"]').setInputFiles(uploadFile);
  await files.getByText("guests.csv").waitFor();
  await shot("06-files");

  step("settings: create an API key, shown once");
  await page.getByRole("button", { name: "Settings: API keys and skills" }).click();
  await page.getByLabel("Key name").fill("e2e");
  await page.getByLabel("Key name").press("Enter");
  const secret = await page.getByLabel("New API key").inputValue();
  check(secret.startsWith("wk_"), `the new key is not shown: ${secret}`);

  step("settings: install a skill from a URL");
  await page.getByLabel("Skill archive URL").fill(skillUrl);
  await page.getByRole("button", { name: "Install skill" }).click();
  const installed = page.getByRole("list", { name: "Installed skills" });
  await installed.getByText(SKILL, { exact: true }).waitFor();
  await installed.getByText("Plans picnics").waitFor();
  await dismissToasts();
  await page.getByRole("heading", { name: "Skills" }).evaluate((element) => element.scrollIntoView({ block: "start" }));
  await shot("07-settings");

  step("phone width, dark theme");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goBack();
  await page.getByText(LAST_LINE).waitFor();
  await page.waitForTimeout(500); // the sidebar slides away as the layout turns narrow
  await shot("08-phone-dark");

  check(problems.length === 0, problems.join("\n"));
  step("done");
} catch (error) {
  await shot("failure").catch(() => undefined);
  console.error(error instanceof Error ? error.stack : error);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}
