import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store } from "../store/store.js";

/**
 * Live pages over server-sent events. One poll of the store (every `intervalMs`, only
 * while a page listens) notices any change — a new audit row, written by any process on
 * this data, or a session leaving `active` — and asks each listening page what to send:
 * a fragment to replace (`update`) or rows to add (`rows`). The fragments are rendered by
 * the same code as the page, so there is no second renderer in the browser.
 */

export interface LiveEvent {
  event: "update" | "rows";
  html: string;
}

/**
 * Renders once per poll for every stream asking with the same key: ten open overviews
 * cost one overview, not ten.
 */
export type SharedRender = (key: string, render: () => string | Promise<string>) => Promise<string>;

/** Each may read the store, so each may answer later (an async store). */
export interface LiveStream {
  /** What to send now, if anything: an event name and its HTML. */
  next(shared: SharedRender): LiveEvent | undefined | Promise<LiveEvent | undefined>;
  /** False once the reader is no longer signed in: the stream ends. */
  allowed(): boolean | Promise<boolean>;
}

interface Listener {
  res: ServerResponse;
  stream: LiveStream;
}

const HEARTBEAT_MS = 15_000;

export class LiveFeed {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private signature = "";
  /** A poll still under way (a slow store) is not started again on top of itself. */
  private polling = false;

  constructor(
    private readonly store: Store,
    private readonly intervalMs = 500,
  ) {}

  /** Answers `req` with an event stream fed by `stream` until the reader goes. */
  async listen(req: IncomingMessage, res: ServerResponse, stream: LiveStream): Promise<void> {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Content-Type-Options": "nosniff",
    });
    // A reconnecting browser waits this long (ms) before trying again.
    res.write("retry: 2000\n\n");
    const listener: Listener = { res, stream };
    this.listeners.add(listener);
    req.on("close", () => this.drop(listener));
    // What changed between the page's rendering and this connection is sent at once.
    const first = await stream.next(unshared);
    if (first) res.write(sseEvent(first.event, first.html));
    await this.start();
  }

  close(): void {
    for (const listener of [...this.listeners]) {
      listener.res.end();
      this.drop(listener);
    }
  }

  private async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      this.poll()
        // A store that cannot be read now is read again at the next poll.
        .catch(() => undefined)
        .finally(() => {
          this.polling = false;
        });
    }, this.intervalMs);
    this.signature = await this.currentSignature();
    this.heartbeat = setInterval(() => {
      for (const listener of this.listeners) listener.res.write(": keep-alive\n\n");
    }, HEARTBEAT_MS);
    this.timer.unref();
    this.heartbeat.unref();
  }

  private drop(listener: Listener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) {
      clearInterval(this.timer);
      clearInterval(this.heartbeat);
      this.timer = undefined;
      this.heartbeat = undefined;
    }
  }

  private async poll(): Promise<void> {
    const signature = await this.currentSignature();
    const changed = signature !== this.signature;
    this.signature = signature;
    const renders = new Map<string, Promise<string>>();
    const shared: SharedRender = (key, render) => {
      let html = renders.get(key);
      if (!html) {
        html = Promise.resolve(render());
        renders.set(key, html);
      }
      return html;
    };
    for (const listener of [...this.listeners]) {
      if (!(await listener.stream.allowed())) {
        listener.res.end();
        this.drop(listener);
        continue;
      }
      if (!changed) continue;
      const event = await listener.stream.next(shared);
      if (event && this.listeners.has(listener)) {
        listener.res.write(sseEvent(event.event, event.html));
      }
    }
  }

  private async currentSignature(): Promise<string> {
    const head = (await this.store.auditHead())?.seq ?? 0;
    const active = (await this.store.listSessions({ state: "active", limit: 1000 }))
      .map((s) => s.id)
      .join(",");
    return `${head}|${active}`;
  }
}

/** One event: every line of the data on its own `data:` line, as the format requires. */
function sseEvent(event: string, data: string): string {
  return `event: ${event}\n${data
    .split(/\r?\n/)
    .map((line) => `data: ${line}`)
    .join("\n")}\n\n`;
}

const unshared: SharedRender = async (_key, render) => render();

/**
 * A stream that sends a fragment whenever it renders differently from the last one sent;
 * streams with the same `key` (the same fragment for every reader) share its rendering.
 */
export function fragmentStream(
  key: string,
  render: () => string | Promise<string>,
  allowed: () => boolean | Promise<boolean>,
): LiveStream {
  let last = "";
  return {
    allowed,
    async next(shared) {
      const now = await shared(key, render);
      if (now === last) return undefined;
      last = now;
      return { event: "update", html: now };
    },
  };
}
