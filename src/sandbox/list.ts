import { invalidRequest } from "./errors.js";
import type { Json, JsonObject } from "./json.js";
import type { Params, Range } from "./params.js";
import { type Collection, newestFirst, type Stored } from "./store.js";

/** Parameters every list endpoint takes. */
export const LIST_PARAMS = ["limit", "starting_after", "ending_before", "created"] as const;

interface Page {
  limit: number;
  startingAfter: string | undefined;
  endingBefore: string | undefined;
  created: Range | undefined;
}

export function readPage(params: Params): Page {
  const limit = params.integer("limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidRequest(
      limit < 1
        ? "This value must be greater than or equal to 1."
        : "This value must be less than or equal to 100.",
      { code: "parameter_invalid_integer", param: "limit" },
    );
  }
  const startingAfter = params.string("starting_after");
  const endingBefore = params.string("ending_before");
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw invalidRequest(
      "You may only specify one of these parameters: ending_before, starting_after.",
      { code: "parameters_exclusive", param: "ending_before" },
    );
  }
  return { limit, startingAfter, endingBefore, created: params.range("created") };
}

function inRange(created: number, range: Range | undefined): boolean {
  if (!range) return true;
  return (
    (range.gt === undefined || created > range.gt) &&
    (range.gte === undefined || created >= range.gte) &&
    (range.lt === undefined || created < range.lt) &&
    (range.lte === undefined || created <= range.lte)
  );
}

/**
 * One page of a Stripe list, newest first. A cursor is positioned by the cursor object's
 * own place in the order, so it works even when that object is filtered out of this list.
 * `ending_before` returns the objects just newer than the cursor, still newest first.
 */
export function listPage<T extends Stored>(options: {
  account: string;
  collection: Collection<T>;
  matching: (record: T) => boolean;
  page: Page;
  url: string;
  render: (record: T) => JsonObject;
}): JsonObject {
  const { account, collection, matching, page, url, render } = options;
  const all = collection
    .all(account)
    .filter((r) => matching(r) && inRange(r.created, page.created));
  let window: T[];
  let hasMore: boolean;
  if (page.endingBefore !== undefined) {
    const cursor = collection.require(account, page.endingBefore, "ending_before");
    const newer = all.filter((r) => newestFirst(r, cursor) < 0);
    window = newer.slice(Math.max(0, newer.length - page.limit));
    hasMore = newer.length > page.limit;
  } else {
    const cursor =
      page.startingAfter === undefined
        ? undefined
        : collection.require(account, page.startingAfter, "starting_after");
    const older = cursor ? all.filter((r) => newestFirst(r, cursor) > 0) : all;
    window = older.slice(0, page.limit);
    hasMore = older.length > page.limit;
  }
  return listObject(window.map(render), hasMore, url);
}

export function listObject(data: Json[], hasMore: boolean, url: string): JsonObject {
  return { object: "list", data, has_more: hasMore, url };
}
