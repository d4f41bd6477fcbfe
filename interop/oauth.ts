import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  OAuthClientProvider,
  OAuthDiscoveryState,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";

/** What a desktop client built on the v2 SDK keeps between runs, in memory. */
export class MemoryProvider implements OAuthClientProvider {
  saved: StoredOAuthTokens | undefined;
  /** How often the SDK sent the person to the authorization page. */
  redirects = 0;
  private client: StoredOAuthClientInformation | undefined;
  private verifier = "";
  private discovery: OAuthDiscoveryState | undefined;

  constructor(
    private readonly redirect: string,
    private readonly open: (url: URL) => Promise<void> = async () => undefined,
  ) {}

  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata() {
    return {
      client_name: "v2 SDK interop client",
      redirect_uris: [this.redirect],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredOAuthClientInformation) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: StoredOAuthTokens) {
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.redirects++;
    await this.open(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

/** The redirect URI of a native client: a loopback server that receives the code. */
export async function callbackServer(): Promise<{
  url: string;
  code: Promise<{ code: string; iss: string | undefined }>;
  close(): void;
}> {
  let deliver: (value: { code: string; iss: string | undefined }) => void = () => undefined;
  const code = new Promise<{ code: string; iss: string | undefined }>((done) => {
    deliver = done;
  });
  const http = createServer((req, res) => {
    const query = new URL(req.url ?? "/", "http://127.0.0.1").searchParams;
    res.end("You may close this window.");
    const got = query.get("code");
    if (got) deliver({ code: got, iss: query.get("iss") ?? undefined });
  });
  await new Promise<void>((done) => http.listen(0, "127.0.0.1", done));
  const { port } = http.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/callback`, code, close: () => http.close() };
}
