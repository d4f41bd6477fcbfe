import { TOOLS } from "../../tools/index.js";
import { loadAlerts } from "../alerts/config.js";
import { PAUSE_TOOL } from "../alerts/engine.js";
import { AlertService } from "../alerts/service.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics/registry.js";
import { PolicyIndex } from "../operator/known-policies.js";
import { newOperatorSessionId } from "../operator/server.js";
import { OPERATOR_TOOLS } from "../operator/tools/index.js";
import { observeStore } from "../store/observed.js";
import type { Store } from "../store/store.js";

/**
 * What a long-running command (`serve`, the console) adds around its store: alert rules
 * (`--alerts FILE` / `SPENDGUARD_ALERTS`) and Prometheus metrics, both told of every
 * store failure.
 */

export interface Watched {
  /** The store to hand on: failures reach alerts and metrics. */
  store: Store;
  alerts: AlertService | undefined;
  metrics: Metrics | undefined;
  close(): Promise<void>;
}

export interface WatchOptions {
  /** The alerts file, loaded (and checked) now; none: no alerts. */
  alertsFile: string | undefined;
  env: NodeJS.ProcessEnv;
  metrics: boolean;
  logger: Logger;
}

/**
 * Loads the alerts file first: a bad one stops the command before anything else starts.
 * prom-client is loaded only when metrics are wanted: every other command starts faster.
 */
export async function watchStore(open: () => Store, options: WatchOptions): Promise<Watched> {
  const config = options.alertsFile ? loadAlerts(options.alertsFile, options.env) : undefined;
  const raw = open();
  const { Metrics } = options.metrics
    ? await import("../metrics/registry.js")
    : { Metrics: undefined };
  const metrics = Metrics
    ? new Metrics({
        store: raw,
        tools: [
          ...TOOLS.map((tool) => tool.name),
          ...OPERATOR_TOOLS.map((tool) => tool.name),
          PAUSE_TOOL,
        ],
        policyFor: policiesOfKeys(raw),
      })
    : undefined;
  const alerts = config
    ? await AlertService.open({
        config,
        store: raw,
        session: newOperatorSessionId(),
        logger: options.logger,
      })
    : undefined;
  if (config) {
    options.logger.info(
      { file: config.file, sinks: config.sinks.map((s) => s.name), rules: config.rules.length },
      "alerts on",
    );
  }
  const store =
    alerts || metrics
      ? observeStore(raw, (operation, err) => {
          metrics?.storeError(operation);
          alerts?.storeFailed(operation, err);
        })
      : raw;
  return {
    store,
    alerts,
    metrics,
    async close() {
      await alerts?.close();
      await raw.close();
    },
  };
}

/** The policy behind a session's hash, among the agent keys' policy files and the shipped ones. */
function policiesOfKeys(store: Store): (hash: string) => ReturnType<PolicyIndex["get"]> {
  const index = new PolicyIndex(async () =>
    (await store.listApiKeys())
      .map((key) => key.policy_file)
      .filter((file): file is string => file !== null),
  );
  return (hash) => index.get(hash);
}
