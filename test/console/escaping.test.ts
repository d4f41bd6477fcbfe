import { describe, expect, it } from "vitest";
import { csvField } from "../../src/audit/export.js";
import { html, jsonScript } from "../../src/console/html.js";
import { safeNext } from "../../src/console/sign-in.js";

/** The rules that keep agent text inert wherever the console shows or exports it. */

describe("console escaping", () => {
  it("escapes every value put into a template, in text and in attributes", () => {
    const hostile = `<script>alert(1)</script>" onmouseover="x'&`;
    const out = html`<p title="${hostile}">${hostile}</p>`.value;
    expect(out).toBe(
      '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x&#39;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x&#39;&amp;</p>',
    );
    // Only templates are markup; arrays of them join, and null, undefined and false vanish.
    expect(html`<ul>${["a<", "b"].map((x) => html`<li>${x}</li>`)}${null}${false}</ul>`.value).toBe(
      "<ul><li>a&lt;</li><li>b</li></ul>",
    );
  });

  it("writes page data so no text inside can close its script element", () => {
    const out = jsonScript("d", { label: "</script><script>alert(1)</script>&" }).value;
    expect(out).not.toContain("</script><script>");
    expect(out.match(/<\/script>/g)).toHaveLength(1);
    const json = out.slice(out.indexOf(">") + 1, out.lastIndexOf("</script>"));
    expect(JSON.parse(json)).toEqual({ label: "</script><script>alert(1)</script>&" });
  });

  it("neutralises spreadsheet formulas in CSV cells and quotes as RFC 4180 says", () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const start of ["+", "-", "@", "\t", "\r"])
      expect(csvField(`${start}1`).replace(/^"/, "")).toMatch(/^'/);
    expect(csvField("plain")).toBe("plain");
    expect(csvField(-5)).toBe("-5");
    expect(csvField(null)).toBe("");
    expect(csvField("a,b")).toBe('"a,b"');
  });

  it("returns from sign-in only to a path on this server", () => {
    expect(safeNext("/console/audit?agent=x")).toBe("/console/audit?agent=x");
    for (const bad of [
      "//evil.example/x",
      "https://evil.example",
      "/\\evil",
      "javascript:alert(1)",
      "",
      null,
    ]) {
      expect(safeNext(bad)).toBe("/console");
    }
  });
});
