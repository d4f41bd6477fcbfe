import type { Store } from "./store.js";

/**
 * The store with every failure reported to `failed` (then thrown on as before): what
 * `/metrics` counts as store errors and what a `store_unavailable` alert rule watches.
 * Results, sync or promised, pass through untouched.
 */
export function observeStore(
  store: Store,
  failed: (operation: string, err: unknown) => void,
): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      const operation = String(property);
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(target, args);
          if (result instanceof Promise) {
            return result.catch((err: unknown) => {
              failed(operation, err);
              throw err;
            });
          }
          return result;
        } catch (err) {
          failed(operation, err);
          throw err;
        }
      };
    },
  });
}
