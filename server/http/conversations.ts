import type { AppDeps } from "./env.ts";
import { router } from "./openapi.ts";

/** `GET /api/v2/conversations` (lists, counts, search). Built in issue 4. */
export function conversationRoutes(_deps: AppDeps) {
  return router();
}
