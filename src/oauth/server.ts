import type { IncomingMessage, ServerResponse } from "node:http";
import { readForm } from "../console/request.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { HttpRoute } from "../transports/http.js";
import type { ChallengeParams } from "../transports/http-auth.js";
import { readJsonBody } from "../transports/http-request.js";
import { type AuthorizeContext, checkAuthorizationRequest } from "./authorize.js";
import {
  DEFAULT_REGISTRATION_LIMITS,
  type RegistrationLimits,
  registerClient,
  registrationResponse,
} from "./clients.js";
import type { ConsentPages } from "./consent.js";
import { NO_STORE, OAuthError, sendJson, sendOAuthError } from "./errors.js";
import { authorizationServerMetadata, ENDPOINTS, protectedResourceMetadata } from "./metadata.js";
import { type MetadataDocumentOptions, MetadataDocuments } from "./metadata-documents.js";
import { refusedStaticKey } from "./refused-key.js";
import {
  PROTECTED_RESOURCE_WELL_KNOWN,
  ProtectedResource,
  RESOURCE_PATHS,
  SCOPE,
} from "./resource.js";
import { revocationRequest, type TokenContext, tokenRequest } from "./token-endpoint.js";
import { DEFAULT_ACCESS_TOKEN_TTL_MS } from "./tokens.js";

/**
 * spendguard as the OAuth 2.1 authorization server of its own MCP endpoint, mounted on the
 * HTTP server: the discovery documents (RFC 9728, RFC 8414), registration (RFC 7591), the
 * authorization endpoint with the operator's consent page, the token endpoint and
 * revocation (RFC 7009). The static `sg_agent_…` keys keep working beside it.
 */

export interface AuthorizationServerOptions {
  store: Store;
  logger: Logger;
  /** The public base URL clients reach (`https://spendguard.example.com`): issuer and resource. */
  publicUrl?: string;
  consent: ConsentPages;
  now?: () => number;
  accessTokenTtlMs?: number;
  registrationLimits?: RegistrationLimits;
  metadataDocuments?: MetadataDocumentOptions;
}

export interface AuthorizationServer {
  /** Answers the authorization server's paths (and the operator sign-in); false for others. */
  route: HttpRoute;
  /** What a 401 on `pathname` names: the protected resource metadata and the scope. */
  challenge(pathname: string): ChallengeParams;
  /** Where the server listens, when no public URL was given (port 0 is known only now). */
  listeningAt(url: string): void;
  /** The issuer and canonical resource, once known. */
  readonly issuer: string | undefined;
  /** The resource identifiers access tokens must be for (empty until known). */
  readonly resources: ReadonlySet<string>;
}

const WELL_KNOWN_AS = "/.well-known/oauth-authorization-server";
/** Any other discovery path a client may try: answered 404 in OAuth's own terms. */
const OTHER_DISCOVERY =
  /^(?:\/[^/]+)*\/\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)(?:\/.*)?$/;
const PUBLIC_JSON = { "Access-Control-Allow-Origin": "*" };
/** The SSE transport posts to `/messages` under the session `/sse` opened: the same resource. */
const CHALLENGED_AS: Record<string, string> = { "/messages": "/sse" };

export function createAuthorizationServer(
  options: AuthorizationServerOptions,
): AuthorizationServer {
  const now = options.now ?? Date.now;
  const documents = new MetadataDocuments(options.store, now, options.metadataDocuments);
  let resource = options.publicUrl ? new ProtectedResource(options.publicUrl) : undefined;
  let lastCleanup = 0;

  const contexts = () => {
    if (!resource) throw new OAuthError("temporarily_unavailable", "Starting up.", 503);
    const authorize: AuthorizeContext = { store: options.store, documents, resource };
    const token: TokenContext = {
      store: options.store,
      documents,
      resource,
      accessTtlMs: options.accessTokenTtlMs ?? DEFAULT_ACCESS_TOKEN_TTL_MS,
      now,
      logger: options.logger,
    };
    return { authorize, token, resource };
  };

  const cleanup = async () => {
    const at = now();
    if (at - lastCleanup < 3_600_000) return;
    lastCleanup = at;
    await options.store.deleteExpiredOAuth(at - 86_400_000);
  };

  const routes: Record<
    string,
    {
      methods: readonly string[];
      /** Called from a client's own code, with its configured headers: see refused-key.ts. */
      refusesStaticKeys?: true;
      run(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
    }
  > = {
    [WELL_KNOWN_AS]: {
      methods: ["GET", "HEAD"],
      async run(_req, res) {
        sendJson(res, 200, authorizationServerMetadata(contexts().resource.base), {
          ...PUBLIC_JSON,
          "Cache-Control": "max-age=300",
        });
      },
    },
    [ENDPOINTS.register]: {
      methods: ["POST"],
      refusesStaticKeys: true,
      async run(req, res) {
        const read = await readJsonBody(req, 64 * 1024);
        if (!read.ok)
          throw new OAuthError("invalid_client_metadata", `${read.message}.`, read.status);
        const registered = await registerClient(
          options.store,
          read.body,
          req.socket.remoteAddress ?? "unknown",
          now(),
          options.registrationLimits ?? DEFAULT_REGISTRATION_LIMITS,
        );
        options.logger.info(
          {
            client: registered.client.id,
            clientName: registered.client.name,
            from: registered.client.registered_by,
          },
          "OAuth client registered",
        );
        sendJson(res, 201, registrationResponse(registered), { ...NO_STORE, ...PUBLIC_JSON });
      },
    },
    [ENDPOINTS.authorize]: {
      methods: ["GET", "POST"],
      async run(req, res, url) {
        if (req.method === "POST") {
          await options.consent.decide(req, res, contexts().authorize);
          return;
        }
        const check = await checkAuthorizationRequest(url.searchParams, contexts().authorize);
        if (check.kind === "page") options.consent.refuse(res, check.error);
        else if (check.kind === "redirect") res.writeHead(303, { Location: check.location }).end();
        else await options.consent.ask(req, res, url, check.request);
      },
    },
    [ENDPOINTS.token]: {
      methods: ["POST"],
      refusesStaticKeys: true,
      async run(req, res) {
        const form = await formOf(req);
        const tokens = await tokenRequest(req, form, contexts().token);
        await cleanup();
        sendJson(res, 200, tokens, { ...NO_STORE, ...PUBLIC_JSON });
      },
    },
    [ENDPOINTS.revoke]: {
      methods: ["POST"],
      async run(req, res) {
        await revocationRequest(req, await formOf(req), contexts().token);
        res.writeHead(200, { ...PUBLIC_JSON, "Cache-Control": "no-store" }).end();
      },
    },
  };

  const refuseStaticKey = async (req: IncomingMessage, pathname: string) => {
    const refused = await refusedStaticKey(req, options.store, now());
    if (!refused) return;
    options.logger.info(
      { path: pathname, refusal: refused.refusal, keyId: refused.keyId },
      "an OAuth request carried a refused key",
    );
    throw refused.error;
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const { pathname } = url;
    if (await options.consent.route(req, res, url)) return true;
    const endpoint = routes[pathname];
    const metadataOf = protectedResourcePath(pathname);
    if (!endpoint && metadataOf === undefined && !OTHER_DISCOVERY.test(pathname)) return false;
    try {
      if (req.method === "OPTIONS") {
        res
          .writeHead(204, {
            ...PUBLIC_JSON,
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
          })
          .end();
      } else if (metadataOf !== undefined) {
        if (req.method !== "GET" && req.method !== "HEAD") throw notAllowed("GET");
        sendJson(res, 200, protectedResourceMetadata(contexts().resource, metadataOf), {
          ...PUBLIC_JSON,
          "Cache-Control": "max-age=300",
        });
      } else if (!endpoint) {
        throw new OAuthError(
          "invalid_request",
          `No such metadata here. spendguard's authorization server metadata is at ${WELL_KNOWN_AS}, its protected resource metadata at ${PROTECTED_RESOURCE_WELL_KNOWN}.`,
          404,
        );
      } else if (!endpoint.methods.includes(req.method ?? "")) {
        throw notAllowed(endpoint.methods.join(", "));
      } else {
        if (endpoint.refusesStaticKeys) await refuseStaticKey(req, pathname);
        await endpoint.run(req, res, url);
      }
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (res.headersSent) res.end();
      else sendOAuthError(res, error);
    }
    return true;
  };

  return {
    route,
    challenge(pathname: string): ChallengeParams {
      if (!resource) return {};
      return {
        resourceMetadata: resource.metadataUrl(CHALLENGED_AS[pathname] ?? pathname),
        scope: SCOPE,
      };
    },
    listeningAt(url: string) {
      resource ??= new ProtectedResource(url);
    },
    get issuer() {
      return resource?.base;
    },
    get resources() {
      return resource?.identifiers ?? new Set<string>();
    },
  };
}

/** The endpoint a protected resource metadata path describes ("" for the root document). */
function protectedResourcePath(pathname: string): string | undefined {
  if (pathname === PROTECTED_RESOURCE_WELL_KNOWN) return "";
  const rest = pathname.slice(PROTECTED_RESOURCE_WELL_KNOWN.length);
  if (!pathname.startsWith(PROTECTED_RESOURCE_WELL_KNOWN)) return undefined;
  return (RESOURCE_PATHS as readonly string[]).includes(rest) ? rest : undefined;
}

function notAllowed(allow: string): OAuthError {
  return new OAuthError("invalid_request", `Use ${allow} here.`, 405, { Allow: allow });
}

async function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  const read = await readForm(req);
  if (!read.ok) {
    throw new OAuthError(
      "invalid_request",
      read.status === 415
        ? "The body must be application/x-www-form-urlencoded."
        : "The body is too large.",
      read.status,
    );
  }
  return read.form;
}
