import type { AppDeps } from "./env.ts";
import { router } from "./openapi.ts";

/** `/api/v2/members` administration. Built in issue 4. */
export function memberRoutes(_deps: AppDeps) {
  return router();
}
