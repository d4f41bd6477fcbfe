import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, type Sandbox, startSandbox } from "../../src/sandbox/index.js";
import { TOOLS } from "../../tools/index.js";
import { call, connectStdio, errorOf, okOf, policyFile, ROOT, tempHome } from "./harness.js";

/** What the agent sees: masked personal data, the read-only switch, the tool catalogue, mcp.json. */

let sandbox: Sandbox;
const home = tempHome();

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, seed: "demo" });
});
afterAll(async () => {
  await sandbox.close();
  home.cleanup();
});

const supportKey = () => sandbox.keys.roles["support-refunds"];

describe("personal data", () => {
  interface CustomerView {
    name: string;
    email: string;
    phone: string;
    address_country: string;
    pii: string;
  }

  it("is masked by default", async () => {
    const policy = `${ROOT}/policies/support-refunds.yaml`;
    const server = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const customer = okOf<CustomerView>(
      await call(server.client, "lookup_customer", { customer: DEMO.customers.acmeJane }),
    );
    const found = okOf<{ customers: CustomerView[] }>(
      await call(server.client, "find_customer", { email: "jane.doe@acme.example" }),
    );
    await server.close();
    expect(customer).toMatchObject({
      name: "Jane D.",
      email: "j***@acme.example",
      phone: "*** (US)",
      address_country: "US",
      pii: "masked",
    });
    expect(JSON.stringify([customer, found])).not.toMatch(/jane\.doe|5550101|San Francisco/);
  });

  it("is revealed under `pii: reveal`", async () => {
    const policy = policyFile(home.dir, "support-refunds", { pii: "reveal" });
    const server = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
    const customer = okOf<CustomerView>(
      await call(server.client, "lookup_customer", { customer: DEMO.customers.acmeJane }),
    );
    await server.close();
    expect(customer).toMatchObject({
      name: "Jane Doe",
      email: "jane.doe@acme.example",
      phone: "+14155550101",
      pii: "revealed",
    });
  });
});

it("--read-only hides and refuses every write tool, whatever the policy enables", async () => {
  const server = await connectStdio({
    policy: `${ROOT}/policies/support-refunds.yaml`,
    home: home.dir,
    sandbox,
    key: supportKey(),
    args: ["--read-only"],
  });
  const listed = (await server.client.listTools()).tools;
  const refused = errorOf(
    await call(server.client, "issue_refund", {
      charge: DEMO.charges.acmeLarge,
      amount: 500,
      reason: "duplicate",
    }),
  );
  await server.close();
  const writes = TOOLS.filter((t) => t.kind === "write").map((t) => t.name);
  expect(listed.map((t) => t.name)).not.toContain("issue_refund");
  expect(listed.filter((t) => writes.includes(t.name))).toEqual([]);
  expect(
    listed.every((t) => t.annotations?.readOnlyHint === true || t.name === "end_session"),
  ).toBe(true);
  expect(refused.code).toBe("tool_not_allowed");
});

it("tool catalogue snapshot: what agents see changes only by a reviewed diff", async () => {
  // A policy enabling every tool, so the snapshot covers them all.
  const policy = policyFile(home.dir, "analytics-readonly", {
    name: "everything",
    tools: Object.fromEntries(TOOLS.filter((t) => t.kind !== "session").map((t) => [t.name, null])),
  });
  const server = await connectStdio({
    policy,
    home: home.dir,
    sandbox,
    key: sandbox.keys.admin,
    args: ["--allow-secret-key"],
  });
  const { tools } = await server.client.listTools();
  await server.close();
  expect(tools.map((t) => t.name).sort()).toEqual(TOOLS.map((t) => t.name).sort());
  await expect(JSON.stringify(tools, null, 2)).toMatchFileSnapshot("__snapshots__/tools.json");
});

describe("mcp.json, spawned exactly as a client would", () => {
  const config = JSON.parse(readFileSync(`${ROOT}/mcp.json`, "utf8")) as {
    mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }>;
  };
  const localize = (text: string) => text.replaceAll("/path/to/spendguard", ROOT);

  async function connect(entry: string, env: Record<string, string>) {
    const server = config.mcpServers[entry]!;
    const transport = new StdioClientTransport({
      command: server.command === "node" ? process.execPath : server.command,
      args: server.args.map(localize),
      env: {
        PATH: process.env.PATH ?? "",
        ...Object.fromEntries(Object.entries(server.env).map(([k, v]) => [k, localize(v)])),
        ...env,
      },
      stderr: "pipe",
    });
    const client = new Client({ name: "mcp-json-test", version: "0.0.0" });
    await client.connect(transport);
    return client;
  }

  it("spendguard-sandbox runs with no Stripe account", async () => {
    const client = await connect("spendguard-sandbox", { SPENDGUARD_HOME: home.dir });
    const names = (await client.listTools()).tools.map((t) => t.name);
    const charge = okOf<{ id: string }>(
      await call(client, "lookup_charge", { charge: DEMO.charges.acmeLarge }),
    );
    await client.close();
    expect(names).toContain("issue_refund");
    expect(charge.id).toBe(DEMO.charges.acmeLarge);
  });

  it("spendguard runs on a restricted key (here the sandbox's)", async () => {
    const client = await connect("spendguard", {
      STRIPE_API_KEY: supportKey(),
      SPENDGUARD_STRIPE_BASE_URL: sandbox.url,
      SPENDGUARD_HOME: home.dir,
    });
    const charge = okOf<{ id: string }>(
      await call(client, "lookup_charge", { charge: DEMO.charges.acmeLarge }),
    );
    await client.close();
    expect(charge.id).toBe(DEMO.charges.acmeLarge);
  });
});

it("stdio logs only warnings by default; SPENDGUARD_LOG_LEVEL=info shows the session's life", async () => {
  const policy = `${ROOT}/policies/support-refunds.yaml`;
  const quiet = await connectStdio({
    policy,
    home: home.dir,
    sandbox,
    key: supportKey(),
    env: { SPENDGUARD_LOG_LEVEL: "" },
  });
  okOf(await call(quiet.client, "session_status"));
  await quiet.close();
  const loud = await connectStdio({ policy, home: home.dir, sandbox, key: supportKey() });
  okOf(await call(loud.client, "session_status"));
  await loud.close();
  expect(quiet.stderr()).toBe("");
  expect(loud.stderr()).toContain('"msg":"session started"');
});
