/** The Stripe sandbox: a local stand-in for Stripe's API, for tests, demos and `serve --sandbox`. */
export type { SandboxRequest } from "./api.js";
export type { SandboxKey } from "./auth.js";
export type { ActiveFault, FaultController, FaultRule } from "./faults.js";
export { ADMIN_KEY, type DemoRole, ROLE_KEYS } from "./keys.js";
export {
  type Access,
  type PermissionMap,
  permissionName,
  SANDBOX_RESOURCES,
  type SandboxResource,
} from "./permissions.js";
export { ENDPOINT_PERMISSIONS, type EndpointPermission } from "./routes.js";
export { DEMO, PLATFORM_ACCOUNT, type SeedName } from "./seed.js";
export { type Sandbox, type SandboxOptions, startSandbox } from "./server.js";
export {
  lockStateFile,
  readStateFile,
  SandboxStateError,
  type SavedState,
  StateInUseError,
} from "./state-file.js";
