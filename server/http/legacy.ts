import type { AppDeps } from "./env.ts";
import { router } from "./openapi.ts";

/** The legacy `/api/v1` interface (SPEC §15). Built in issue 4. */
export function legacyRoutes(_deps: AppDeps) {
  return router();
}
