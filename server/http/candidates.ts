import type { AppDeps } from "./env.ts";
import { router } from "./openapi.ts";

/** `GET /api/v2/conversations/{id}/candidates` (R2.3). Built in issue 4. */
export function candidateRoutes(_deps: AppDeps) {
  return router();
}
