import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

/**
 * vitest globalSetup: one throwaway PostgreSQL server for the whole run, on a free
 * loopback port, when the binaries are installed (Debian's `postgresql` package); or the
 * server `SPENDGUARD_TEST_DATABASE_URL` names. Without either, the PostgreSQL tests skip
 * and say why — unless `SPENDGUARD_REQUIRE_POSTGRES=1` (CI), which makes that a failure.
 */

declare module "vitest" {
  export interface ProvidedContext {
    /** A superuser URL of the run's server, or "" when there is none. */
    postgresUrl: string;
    /** Why there is none. */
    postgresMissing: string;
  }
}

const PG_ROOT = "/usr/lib/postgresql";

/** The newest installed PostgreSQL's `bin` directory, if any. */
export function binaries(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(PG_ROOT, versions[0], "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0
    ? ["runuser", ["-u", "postgres", "--", command, ...args]]
    : [command, args];
}

export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env.SPENDGUARD_TEST_DATABASE_URL;
  const required = process.env.SPENDGUARD_REQUIRE_POSTGRES === "1";
  const none = (why: string) => {
    if (required) throw new Error(`PostgreSQL is required (SPENDGUARD_REQUIRE_POSTGRES=1): ${why}`);
    project.provide("postgresUrl", "");
    project.provide("postgresMissing", why);
    return () => undefined;
  };
  if (given) {
    project.provide("postgresUrl", given);
    project.provide("postgresMissing", "");
    return () => undefined;
  }
  const bin = binaries();
  if (!bin) {
    return none(
      `no PostgreSQL binaries under ${PG_ROOT} and no SPENDGUARD_TEST_DATABASE_URL (apt-get install postgresql)`,
    );
  }
  const cluster = await startCluster(bin);
  project.provide("postgresUrl", cluster.url);
  project.provide("postgresMissing", "");
  return () => cluster.destroy();
}

/** A throwaway PostgreSQL server of one's own: stopped and started again at will. */
export interface Cluster {
  /** A superuser URL. */
  url: string;
  /** `pg_ctl stop -m fast`: connections are cut, the server is down until `start`. */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stops it (if running) and removes its files. */
  destroy(): void;
}

/**
 * `initdb` into a temporary directory and `pg_ctl start` on a free loopback port (as the
 * `postgres` user when running as root: PostgreSQL refuses root). fsync is off: the data
 * is thrown away, and the tests measure behaviour, not durability.
 */
export async function startCluster(bin: string): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "spendguard-pg-"));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const port = await freePort();
  const run = (name: string, args: string[]) => {
    const [command, argv] = asServerUser(join(bin, name), args);
    const result = spawnSync(command, argv, { encoding: "utf8", timeout: 60_000 });
    if (result.status !== 0) {
      throw new Error(`${name} failed: ${result.stderr || result.stdout || result.error}`);
    }
  };
  run("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  const start = () =>
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off`,
      "start",
    ]);
  start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      running = false;
    },
    start() {
      start();
      running = true;
    },
    destroy() {
      try {
        if (running) run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
