import type { AppDeps } from "./env.ts";
import { router } from "./openapi.ts";

/** `POST /api/v2/bulk/{close,reopen,transfer}`, `GET /api/v2/jobs/{id}`. Built in issue 4. */
export function bulkRoutes(_deps: AppDeps) {
  return router();
}
