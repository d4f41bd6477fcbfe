import { join } from "node:path";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox } from "../../src/sandbox/index.js";
import {
  createKey,
  type HttpServer,
  INITIALIZE,
  outcome,
  ROOT,
  rpc,
  runCli,
  startHttpServer,
  tempHome,
} from "../http/harness.js";
import { Browser, consentFields, form, json, pkce, register } from "./flow.js";

/**
 * spendguard as the OAuth 2.1 authorization server of its MCP endpoint, driven over real
 * HTTP against the built server: discovery, registration, the consent page, the token
 * endpoint's grants and every refusal the issue names, with its OAuth error code.
 */

const POLICY = join(ROOT, "policies/support-refunds.yaml");
const REDIRECT = "http://127.0.0.1:9/callback";
let home: ReturnType<typeof tempHome>;
let server: HttpServer;
let base: string;
let operatorKey: string;

beforeAll(async () => {
  home = tempHome();
  operatorKey = (await createKey(home.dir, ["--operator", "--name", "alice"])).key;
  server = await startHttpServer({ home: home.dir, env: {}, args: ["--sandbox"] });
  base = server.url;
});

afterAll(async () => {
  await server?.stop();
  home?.cleanup();
});

async function publicClient(name = "Test Client") {
  const made = await register(base, {
    client_name: name,
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: "none",
    grant_types: ["authorization_code", "refresh_token"],
  });
  expect(made.status).toBe(201);
  return String(made.body.client_id);
}

function authorizeUrl(clientId: string, challenge: string, extra: Record<string, string> = {}) {
  const url = new URL(`${base}/authorize`);
  for (const [k, v] of Object.entries({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st-123",
    scope: "spendguard",
    resource: `${base}/mcp`,
    ...extra,
  }))
    url.searchParams.set(k, v);
  return url.href;
}

/** The whole browser leg: sign in, choose, approve; the code at the redirect URI. */
async function consent(
  browser: Browser,
  url: string,
  choice: Record<string, string> = {},
): Promise<URL> {
  let page = await browser.get(url);
  if (page.status === 303 && page.location?.includes("/console/sign-in")) {
    const signedIn = await browser.signIn(base, page.location, operatorKey);
    expect(signedIn.status).toBe(303);
    page = await browser.get(new URL(signedIn.location ?? "", base).href);
  }
  expect(page.status).toBe(200);
  const posted = await browser.post(`${base}/authorize`, {
    ...consentFields(page.html),
    agent: "test-agent",
    policy: POLICY,
    other_policy: "",
    expires: "30d",
    decision: "approve",
    ...choice,
  });
  expect(posted.status).toBe(303);
  return new URL(posted.location ?? "");
}

async function codeFlow(clientId: string, browser = new Browser()) {
  const { verifier, challenge } = pkce();
  const back = await consent(browser, authorizeUrl(clientId, challenge));
  expect(back.searchParams.get("state")).toBe("st-123");
  expect(back.searchParams.get("iss")).toBe(base);
  const code = back.searchParams.get("code") ?? "";
  const tokens = await form(`${base}/token`, {
    grant_type: "authorization_code",
    code,
    code_verifier: verifier,
    redirect_uri: REDIRECT,
    client_id: clientId,
    resource: `${base}/mcp`,
  });
  expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
  return { code, verifier, tokens: tokens.body as Record<string, string> };
}

async function callWith(token: string, name: string, args: Record<string, unknown>) {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "oauth-test", version: "0" });
  await client.connect(transport);
  try {
    return outcome((await client.callTool({ name, arguments: args })) as CallToolResult);
  } finally {
    await client.close();
  }
}

async function refusalOf(token: string) {
  const answer = await rpc(base, "/mcp", token, INITIALIZE);
  return {
    status: answer.status,
    code: answer.error?.data?.code,
    challenge: answer.headers.get("www-authenticate") ?? "",
  };
}

describe("discovery", () => {
  it("protected resource and authorization server metadata; 401s name them", async () => {
    const resource = await json(`${base}/.well-known/oauth-protected-resource/mcp`);
    expect(resource.body).toMatchObject({
      resource: `${base}/mcp`,
      authorization_servers: [base],
      scopes_supported: ["spendguard"],
    });
    expect((await json(`${base}/.well-known/oauth-protected-resource`)).body.resource).toBe(base);
    const as = await json(`${base}/.well-known/oauth-authorization-server`);
    expect(as.body).toMatchObject({
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      registration_endpoint: `${base}/register`,
      revocation_endpoint: `${base}/revoke`,
      code_challenge_methods_supported: ["S256"],
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
    });
    const unauthenticated = await fetch(`${base}/mcp`, { method: "POST" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("www-authenticate")).toBe(
      `Bearer realm="spendguard", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="spendguard"`,
    );
    const oidc = await json(`${base}/.well-known/openid-configuration`);
    expect(oidc).toMatchObject({ status: 404, body: { error: "invalid_request" } });
  });
});

describe("registration", () => {
  it("registers public and confidential clients; refuses bad metadata with its code", async () => {
    const confidential = await register(base, {
      client_name: "Server App",
      redirect_uris: ["https://app.example.com/cb"],
    });
    expect(confidential.status).toBe(201);
    expect(confidential.body).toMatchObject({ token_endpoint_auth_method: "client_secret_basic" });
    expect(String(confidential.body.client_secret)).toMatch(/^sg_cs_/);

    const bad: [Record<string, unknown>, string][] = [
      [{ redirect_uris: ["http://evil.example.com/cb"] }, "invalid_redirect_uri"],
      [{ redirect_uris: ["https://a.example/cb#x"] }, "invalid_redirect_uri"],
      [{ redirect_uris: [] }, "invalid_client_metadata"],
      [
        { redirect_uris: ["https://a.example/cb"], grant_types: ["client_credentials"] },
        "invalid_client_metadata",
      ],
    ];
    for (const [metadata, error] of bad) {
      const refused = await register(base, metadata);
      expect(refused.status, JSON.stringify(metadata)).toBe(400);
      expect(refused.body.error).toBe(error);
      expect(String(refused.body.error_description).length).toBeGreaterThan(10);
    }
  });

  it("a refused static key sent along (a client's configured header) is refused at /register and /token with its cause; a live key or an access token is not", async () => {
    const revoked = await createKey(home.dir, ["--agent", "stale-bot", "--policy", POLICY]);
    await runCli(["keys", "revoke", revoked.id, "--home", home.dir]);
    const metadata = JSON.stringify({
      client_name: "Header Client",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
    });
    const registerWith = (token: string) =>
      json(`${base}/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: metadata,
      });
    const expectRefused = (
      answer: Awaited<ReturnType<typeof json>>,
      cause: string,
      challenge: string,
    ) => {
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe("invalid_token");
      expect(String(answer.body.error_description)).toContain(cause);
      expect(String(answer.body.error_description)).toContain("Authorization header");
      expect(answer.headers.get("www-authenticate")).toContain(challenge);
    };

    const byRevoked = await registerWith(revoked.key);
    expectRefused(byRevoked, "This key was revoked", 'error="invalid_token"');
    expectRefused(await registerWith("sg_agent_nonsense"), "This key is not valid", "Bearer");
    expect(String(byRevoked.body.error_description)).not.toContain(revoked.key);
    const refresh = await form(
      `${base}/token`,
      { grant_type: "refresh_token", refresh_token: "x", client_id: "x" },
      { Authorization: `Bearer ${revoked.key}` },
    );
    expectRefused(refresh, "This key was revoked", 'error="invalid_token"');

    // A live key, or an access token (live or not: refreshing it is the token endpoint's job),
    // goes through to the endpoint itself.
    const live = await createKey(home.dir, ["--agent", "live-bot", "--policy", POLICY]);
    expect((await registerWith(live.key)).status).toBe(201);
    const clientId = await publicClient();
    const { tokens } = await codeFlow(clientId);
    expect((await registerWith(tokens.access_token ?? "")).status).toBe(201);
    const refreshed = await form(
      `${base}/token`,
      {
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token ?? "",
        client_id: clientId,
      },
      { Authorization: `Bearer ${tokens.access_token}` },
    );
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  });
});

describe("client ID metadata documents", () => {
  it("a URL client_id is fetched only from a proper public https URL (no SSRF into the host's network)", async () => {
    const { challenge } = pkce();
    const cases: [string, string][] = [
      ["https://127.0.0.1:1/client.json", "private address"],
      ["https://10.1.2.3/client.json", "private address"],
      ["https://app.example.com", "has no path"],
      ["https://app.example.com/a/../client.json", "path segments"],
    ];
    for (const [clientId, why] of cases) {
      const answer = await new Browser().get(authorizeUrl(clientId, challenge));
      expect(answer.status, clientId).toBe(400);
      expect(answer.html).toContain("invalid_client");
      expect(answer.html).toContain(why);
    }
  });
});

describe("authorization code flow", () => {
  it("refusals at /authorize: a page for what cannot be redirected, otherwise the client's redirect URI", async () => {
    const clientId = await publicClient();
    const { challenge } = pkce();
    const unknown = await new Browser().get(authorizeUrl("sgc_nope", challenge));
    expect(unknown.status).toBe(400);
    expect(unknown.html).toContain("invalid_client");
    const wrongRedirect = await new Browser().get(
      authorizeUrl(clientId, challenge, { redirect_uri: "http://127.0.0.1:9/elsewhere" }),
    );
    expect(wrongRedirect.status).toBe(400);
    expect(wrongRedirect.location).toBeNull();
    expect(wrongRedirect.html).toContain("redirect_uri is not one this client registered");

    const redirected = async (extra: Record<string, string>) => {
      const answer = await new Browser().get(authorizeUrl(clientId, challenge, extra));
      expect(answer.status).toBe(303);
      const to = new URL(answer.location ?? "");
      expect(`${to.origin}${to.pathname}`).toBe(REDIRECT);
      expect(to.searchParams.get("state")).toBe("st-123");
      expect(to.searchParams.get("iss")).toBe(base);
      return to.searchParams.get("error");
    };
    expect(await redirected({ code_challenge: "" })).toBe("invalid_request");
    expect(await redirected({ code_challenge_method: "plain" })).toBe("invalid_request");
    expect(await redirected({ response_type: "token" })).toBe("unsupported_response_type");
    expect(await redirected({ resource: "https://other.example.com/mcp" })).toBe("invalid_target");
  });

  it("the consent page: refuses an agent key, needs its CSRF token, cannot be framed; a decline is access_denied", async () => {
    const clientId = await publicClient("Framed <Client>");
    const agentKey = (await createKey(home.dir, ["--agent", "bot", "--policy", POLICY])).key;
    const { challenge } = pkce();
    const browser = new Browser();
    const first = await browser.get(authorizeUrl(clientId, challenge));
    expect(first.status).toBe(303);
    const refused = await browser.signIn(base, first.location ?? "", agentKey);
    expect(refused.status).toBe(403);
    expect(refused.html).toContain("agent keys cannot sign in");

    const signedIn = await browser.signIn(base, first.location ?? "", operatorKey);
    const page = await browser.get(new URL(signedIn.location ?? "", base).href);
    expect(page.html).toContain("Framed &lt;Client&gt;");
    expect(page.html).toContain("127.0.0.1:9");
    // Clickjacking: the page may not be framed, by CSP and by X-Frame-Options.
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const consentPage = await browser.post(`${base}/authorize`, {
      ...consentFields(page.html),
      csrf: "forged",
      decision: "approve",
      agent: "x",
      policy: POLICY,
      expires: "30d",
    });
    expect(consentPage.status).toBe(403);
    expect(consentPage.html).toContain("CSRF");
    // Without the session cookie (a forged cross-site post) nothing is granted either.
    const anonymous = await new Browser().post(`${base}/authorize`, {
      ...consentFields(page.html),
      decision: "approve",
      agent: "x",
      policy: POLICY,
      expires: "30d",
    });
    expect(anonymous.status).toBe(403);
    const again = await browser.get(authorizeUrl(clientId, challenge));
    expect(again.status).toBe(200);
    const declined = await browser.post(`${base}/authorize`, {
      ...consentFields(again.html),
      decision: "decline",
    });
    const to = new URL(declined.location ?? "");
    expect(to.searchParams.get("error")).toBe("access_denied");
    expect(to.searchParams.get("state")).toBe("st-123");
  });

  it("code → tokens that act as the chosen agent; every token-endpoint refusal has its code", async () => {
    const clientId = await publicClient();
    const browser = new Browser();
    const { verifier, challenge } = pkce();
    const back = await consent(browser, authorizeUrl(clientId, challenge));
    const code = back.searchParams.get("code") ?? "";
    const exchange = (fields: Record<string, string>) =>
      form(`${base}/token`, {
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        client_id: clientId,
        code_verifier: verifier,
        ...fields,
      });
    expect((await exchange({ code_verifier: "" })).body.error).toBe("invalid_request");
    expect((await exchange({ code_verifier: pkce().verifier })).body.error).toBe("invalid_grant");
    // A wrong verifier spent the code: it is single-use, whatever happened.
    const replay = await exchange({});
    expect(replay.body.error).toBe("invalid_grant");
    expect(String(replay.body.error_description)).toContain("already used");

    const { tokens } = await codeFlow(clientId, browser);
    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "spendguard" });
    expect(tokens.access_token).toMatch(/^sg_at_/);
    expect(tokens.refresh_token).toMatch(/^sg_rt_/);

    const inCap = await callWith(tokens.access_token ?? "", "issue_refund", {
      charge: "ch_SgAcmeLarge500Usd",
      amount: 1000,
      reason: "requested_by_customer",
    });
    expect(inCap.ok).toBe(true);
    const outOfScope = await callWith(tokens.access_token ?? "", "issue_refund", {
      charge: "ch_SgGlobexEur75",
      amount: 1000,
      reason: "duplicate",
    });
    expect(outOfScope).toMatchObject({ ok: false, code: "customer_out_of_scope" });

    const audit = await runCli(["audit", "--json", "--home", home.dir]);
    const rows = audit.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { agent: string });
    expect(rows.some((row) => row.agent === "test-agent")).toBe(true);
    for (const secret of [tokens.access_token, tokens.refresh_token, code]) {
      expect(audit.stdout).not.toContain(secret);
      expect(server.stderr()).not.toContain(secret);
    }

    const wrongRedirect = await codeFlowCode(clientId, browser);
    expect(
      (
        await form(`${base}/token`, {
          grant_type: "authorization_code",
          code: wrongRedirect.code,
          redirect_uri: "http://127.0.0.1:9/other",
          client_id: clientId,
          code_verifier: wrongRedirect.verifier,
        })
      ).body.error,
    ).toBe("invalid_grant");
    expect((await form(`${base}/token`, { grant_type: "password" })).body.error).toBe(
      "unsupported_grant_type",
    );
    const noClient = await form(`${base}/token`, {
      grant_type: "refresh_token",
      refresh_token: "x",
    });
    expect(noClient).toMatchObject({ status: 401, body: { error: "invalid_client" } });
  });

  it("refresh rotates; a reused refresh token revokes the whole grant; RFC 7009 revocation; keys revoke ends it", async () => {
    const clientId = await publicClient();
    const { tokens } = await codeFlow(clientId);
    const refreshed = await form(`${base}/token`, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: clientId,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    const fresh = String(refreshed.body.access_token);
    expect((await refusalOf(fresh)).status).toBe(200);

    const reused = await form(`${base}/token`, {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token ?? "",
      client_id: clientId,
    });
    expect(reused.body.error).toBe("invalid_grant");
    expect(await refusalOf(fresh)).toMatchObject({ status: 401, code: "grant_revoked" });
    expect((await refusalOf(fresh)).challenge).toContain('error="invalid_token"');

    // RFC 7009: an access token alone.
    const second = await codeFlow(clientId);
    const revoked = await form(`${base}/revoke`, {
      token: second.tokens.access_token ?? "",
      client_id: clientId,
    });
    expect(revoked.status).toBe(200);
    expect(await refusalOf(second.tokens.access_token ?? "")).toMatchObject({
      status: 401,
      code: "token_revoked",
    });

    // The grant is an identity: keys list shows it, keys revoke stops its next request.
    const third = await codeFlow(clientId);
    const listed = JSON.parse(
      (await runCli(["keys", "list", "--json", "--home", home.dir])).stdout,
    ) as {
      id: string;
      credential: string;
      oauth_client: string;
      status: string;
      revoked_reason: string | null;
    }[];
    const grants = listed.filter((k) => k.oauth_client === clientId);
    expect(grants.map((g) => [g.status, g.revoked_reason])).toEqual([
      ["revoked", "refresh token reused"],
      ["active", null],
      ["active", null],
    ]);
    const session = await rpc(base, "/mcp", third.tokens.access_token ?? "", INITIALIZE);
    const sessionId = session.headers.get("mcp-session-id") ?? "";
    const latest = grants.at(-1)?.id ?? "";
    expect((await runCli(["keys", "revoke", latest, "--home", home.dir])).stdout).toContain(
      `Revoked OAuth grant ${latest}`,
    );
    const next = await rpc(
      base,
      "/mcp",
      third.tokens.access_token ?? "",
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      { "Mcp-Session-Id": sessionId },
    );
    expect(next.status).toBe(401);
    expect(next.error?.data?.code).toBe("grant_revoked");
    const refresh = await form(`${base}/token`, {
      grant_type: "refresh_token",
      refresh_token: third.tokens.refresh_token ?? "",
      client_id: clientId,
    });
    expect(refresh.body.error).toBe("invalid_grant");
  });
});

async function codeFlowCode(clientId: string, browser: Browser) {
  const { verifier, challenge } = pkce();
  const back = await consent(browser, authorizeUrl(clientId, challenge));
  return { code: back.searchParams.get("code") ?? "", verifier };
}

describe("client_credentials", () => {
  it("a client made with keys create --oauth-client gets tokens that work; revoking it stops them", async () => {
    const made = await runCli([
      "keys",
      "create",
      "--agent",
      "framework",
      "--policy",
      POLICY,
      "--oauth-client",
      "--json",
      "--home",
      home.dir,
    ]);
    const created = JSON.parse(made.stdout) as {
      id: string;
      client_id: string;
      client_secret: string;
    };
    expect(created.client_secret).toMatch(/^sg_cs_/);
    const provider = new ClientCredentialsProvider({
      clientId: created.client_id,
      clientSecret: created.client_secret,
      expectedIssuer: base,
    });
    const client = new Client({ name: "agent-framework", version: "0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    );
    const lookup = await client.callTool({
      name: "lookup_charge",
      arguments: { charge: "ch_SgAcmeLarge500Usd" },
    });
    expect(lookup.isError).toBeFalsy();
    const token = provider.tokens()?.access_token ?? "";
    expect(token).toMatch(/^sg_at_/);
    expect(provider.tokens()?.refresh_token).toBeUndefined();

    await runCli(["keys", "revoke", created.id, "--home", home.dir]);
    expect(await refusalOf(token)).toMatchObject({ status: 401, code: "grant_revoked" });
    const again = await form(
      `${base}/token`,
      { grant_type: "client_credentials" },
      {
        Authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString("base64")}`,
      },
    );
    expect(again).toMatchObject({ status: 401, body: { error: "invalid_client" } });
    const wrongSecret = await form(
      `${base}/token`,
      { grant_type: "client_credentials" },
      { Authorization: `Basic ${Buffer.from(`${created.client_id}:nope`).toString("base64")}` },
    );
    expect(wrongSecret.body.error).toBe("invalid_client");
    await client.close().catch(() => undefined);
  });

  it("a public client may not use client_credentials", async () => {
    const clientId = await publicClient();
    const refused = await form(`${base}/token`, {
      grant_type: "client_credentials",
      client_id: clientId,
    });
    expect(refused.body.error).toBe("unauthorized_client");
  });
});

describe("tokens are for this resource, and short-lived", () => {
  it("another server on the same data refuses a token issued here; an expired token is refused", async () => {
    // The same data directory, its own Stripe (a data directory runs one --sandbox at a time).
    const stripe = await startSandbox({ port: 0, seed: "demo" });
    const other = await startHttpServer({
      home: home.dir,
      env: {
        STRIPE_API_KEY: stripe.keys.roles["support-refunds"],
        SPENDGUARD_STRIPE_BASE_URL: stripe.url,
      },
      args: ["--access-token-ttl", "2s"],
    });
    try {
      const clientId = await publicClient();
      const { tokens } = await codeFlow(clientId);
      const elsewhere = await rpc(other.url, "/mcp", tokens.access_token ?? "", INITIALIZE);
      expect(elsewhere.status).toBe(401);
      expect(elsewhere.error?.data?.code).toBe("token_wrong_resource");

      const cc = JSON.parse(
        (
          await runCli([
            "keys",
            "create",
            "--agent",
            "short",
            "--policy",
            POLICY,
            "--oauth-client",
            "--json",
            "--home",
            home.dir,
          ])
        ).stdout,
      ) as { client_id: string; client_secret: string };
      const issued = await form(`${other.url}/token`, {
        grant_type: "client_credentials",
        client_id: cc.client_id,
        client_secret: cc.client_secret,
      });
      expect(issued.body.expires_in).toBe(2);
      await new Promise((done) => setTimeout(done, 2500));
      const expired = await rpc(other.url, "/mcp", String(issued.body.access_token), INITIALIZE);
      expect(expired.status).toBe(401);
      expect(expired.error?.data?.code).toBe("token_expired");
    } finally {
      await other.stop();
      await stripe.close();
    }
  });

  it("registrations are rate-limited and listed for the operator", async () => {
    let status = 201;
    for (let i = 0; i < 25 && status === 201; i++) {
      status = (
        await register(base, { redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" })
      ).status;
    }
    expect(status).toBe(429);
    const listed = await runCli(["keys", "clients", "--home", home.dir]);
    expect(listed.stdout).toContain("dynamic");
    expect(listed.stdout).toContain("127.0.0.1:9");
  });
});
