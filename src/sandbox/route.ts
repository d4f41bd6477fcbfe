import type { IdMaker } from "./ids.js";
import type { JsonObject } from "./json.js";
import type { ObjectType } from "./objects.js";
import type { Params } from "./params.js";
import type { Permission } from "./permissions.js";
import type { Store } from "./store.js";

/** What an operation on the state needs: where, when, and how to name new objects. */
export interface OperationContext {
  store: Store;
  /** The account acted on: the platform's, or the one `Stripe-Account` names. */
  account: string;
  /** Unix seconds. */
  now: number;
  newId: IdMaker;
}

export interface RouteRequest extends OperationContext {
  /** The `:id` of the path, `""` when the path has none. */
  id: string;
  params: Params;
}

/** What an endpoint answers with: one object, or a list of them. */
export type Returns = ObjectType | { list: ObjectType };

export interface Route {
  method: "GET" | "POST" | "DELETE";
  /** `/v1/charges/:id` */
  path: string;
  permission: Permission;
  returns: Returns;
  /** Parameters the endpoint takes besides `expand`; anything else is refused. */
  params: readonly string[];
  /**
   * Reads and checks the parameters, then returns the work itself. The split is Stripe's
   * idempotency rule: a request refused here never started executing, so its result is
   * not saved for the key; whatever the returned function answers (errors included) is.
   */
  validate(request: RouteRequest): () => JsonObject;
}

interface RouteMatch {
  route: Route;
  id: string;
}

export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): RouteMatch | undefined {
  const segments = path.split("/");
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split("/");
    if (pattern.length !== segments.length) continue;
    let id = "";
    const matches = pattern.every((part, i) => {
      const segment = segments[i] as string;
      if (part !== ":id") return part === segment;
      id = safeDecode(segment);
      return id !== "";
    });
    if (matches) return { route, id };
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return "";
  }
}
