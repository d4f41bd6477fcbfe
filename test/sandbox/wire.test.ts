import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { DEMO, type Sandbox } from "../../src/sandbox/index.js";
import { raw, sandbox, stripeFor } from "./helpers.js";

/** Requests the SDK would never send: the sandbox must answer them as Stripe would, and stay up. */
const auth = (box: Sandbox) => ({ authorization: `Bearer ${box.keys.admin}` });
const form = (box: Sandbox) => ({
  ...auth(box),
  "content-type": "application/x-www-form-urlencoded",
});

async function stillUp(box: Sandbox): Promise<void> {
  await expect(stripeFor(box).balance.retrieve()).resolves.toMatchObject({ object: "balance" });
}

function expectStripeError(
  response: { status: number; json: unknown; headers: Headers },
  status: number,
) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/json");
  expect(response.headers.get("request-id")).toMatch(/^req_[A-Za-z0-9]{14,}$/);
  expect(response.json).toMatchObject({
    error: {
      type: "invalid_request_error",
      message: expect.any(String),
      request_log_url: expect.any(String),
    },
  });
}

describe("wire", () => {
  it("answers an unknown route, or a known one with the wrong method, with Stripe's 404", async () => {
    const box = await sandbox();
    const unknown = await raw(box, "/v1/foo", { headers: auth(box) });
    expectStripeError(unknown, 404);
    expect(unknown.json).toMatchObject({
      error: {
        message:
          "Unrecognized request URL (GET: /v1/foo). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
      },
    });
    const method = await raw(box, `/v1/charges/${DEMO.charges.acmeLarge}`, {
      method: "DELETE",
      headers: auth(box),
    });
    expectStripeError(method, 404);
    await stillUp(box);
  });

  it("refuses a body that is not form-encoded", async () => {
    const box = await sandbox();
    const response = await raw(box, "/v1/refunds", {
      method: "POST",
      headers: { ...auth(box), "content-type": "application/json" },
      body: JSON.stringify({ charge: DEMO.charges.acmeLarge }),
    });
    expectStripeError(response, 400);
    expect((response.json as { error: { message: string } }).error.message).toContain(
      "application/x-www-form-urlencoded",
    );
    await stillUp(box);
  });

  it.each([
    ["unbalanced brackets", "metadata[a=1"],
    ["bad percent-encoding", "charge=%E0%A4%A"],
    ["a value and a structure under one name", "metadata=x&metadata[a]=1"],
  ])("refuses a malformed form body (%s)", async (_what, body) => {
    const box = await sandbox();
    expectStripeError(
      await raw(box, "/v1/customers", { method: "POST", headers: form(box), body }),
      400,
    );
    await stillUp(box);
  });

  it("refuses a malformed query string", async () => {
    const box = await sandbox();
    expectStripeError(await raw(box, "/v1/charges?limit=%zz", { headers: auth(box) }), 400);
    await stillUp(box);
  });

  it("refuses a body over 1 MB without reading it into memory, and stays up", async () => {
    const box = await sandbox();
    const huge = `description=${"x".repeat(2 * 1024 * 1024)}`;
    const response = await raw(box, "/v1/customers", {
      method: "POST",
      headers: form(box),
      body: huge,
    });
    expectStripeError(response, 400);
    expect((response.json as { error: { message: string } }).error.message).toContain("too large");
    await stillUp(box);
  });

  it("refuses unknown parameters, expand given as a string, and empty required values", async () => {
    const box = await sandbox();
    const unknown = await raw(box, "/v1/customers", {
      method: "POST",
      headers: form(box),
      body: "email=a@b.co&foo=1",
    });
    expectStripeError(unknown, 400);
    expect(unknown.json).toMatchObject({
      error: {
        code: "parameter_unknown",
        param: "foo",
        message: "Received unknown parameter: foo",
      },
    });
    const expand = await raw(box, `/v1/charges/${DEMO.charges.acmeLarge}?expand=customer`, {
      headers: auth(box),
    });
    expect(expand.json).toMatchObject({ error: { message: "Invalid array", param: "expand" } });
    const indexed = await raw(box, `/v1/charges/${DEMO.charges.acmeLarge}?expand[0]=customer`, {
      headers: auth(box),
    });
    expect(indexed.json).toMatchObject({ customer: { id: DEMO.customers.acmeJane } });
    const empty = await raw(box, "/v1/refunds", {
      method: "POST",
      headers: form(box),
      body: "charge=",
    });
    expect(empty.json).toMatchObject({
      error: { code: "parameter_invalid_string_empty", param: "charge" },
    });
    const deep = await raw(
      box,
      `/v1/disputes/${DEMO.disputes.acmeNeedsResponse}?expand[]=charge.customer.default_source.customer.default_source`,
      {
        headers: auth(box),
      },
    );
    expectStripeError(deep, 400);
  });

  it("accepts Stripe's nested evidence notation and metadata in the body", async () => {
    const box = await sandbox();
    const response = await raw(box, `/v1/disputes/${DEMO.disputes.acmeNeedsResponse}`, {
      method: "POST",
      headers: form(box),
      body: "evidence[customer_name]=John+Roe&evidence[service_date]=2031-01-02&metadata[case]=C-7",
    });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      evidence: { customer_name: "John Roe", service_date: "2031-01-02" },
      metadata: { case: "C-7" },
    });
  });

  it("survives a client that disappears mid-body and one that speaks no HTTP", async () => {
    const box = await sandbox();
    const url = new URL(box.url);
    await new Promise<void>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${box.keys.admin}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=`,
        );
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 50);
      });
    });
    const garbage = await new Promise<string>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () =>
        socket.write("HELLO STRIPE\r\n\r\n"),
      );
      let text = "";
      socket.on("data", (chunk) => {
        text += chunk;
      });
      socket.on("close", () => resolve(text));
    });
    expect(garbage).not.toContain("200 OK");
    await stillUp(box);
  });

  it("answers without crashing when the client hangs up before the answer", async () => {
    const box = await sandbox();
    box.faults.add({ path: "/v1/balance", kind: "latency", latencyMs: 100 });
    const controller = new AbortController();
    const pending = fetch(`${box.url}/v1/balance`, {
      headers: auth(box),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await stillUp(box);
  });

  it("listens on 127.0.0.1 by default and reports its URL and port", async () => {
    const box = await sandbox();
    expect(box.url).toBe(`http://127.0.0.1:${box.port}`);
    expect(box.port).toBeGreaterThan(0);
  });
});
