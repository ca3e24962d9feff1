/**
 * Which database failures mean "storage is unavailable" (answer STORAGE_UNAVAILABLE, nothing
 * acknowledged, try again later) rather than a bug (answer INTERNAL and log it).
 */

/** Thrown by our own client-side deadline when the database did not answer in time. */
export class StorageTimeout extends Error {
  readonly code = "STORAGE_TIMEOUT";
  constructor(readonly ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = "StorageTimeout";
  }
}

/** postgres.js and Node socket codes for a lost, refused or timed-out connection. */
const CONNECTION_CODES = new Set([
  "STORAGE_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATE classes that say the server cannot serve us now: 08 connection exception,
 * 53 insufficient resources (too many connections, disk full), 57 operator intervention
 * (57014 query_canceled — our statement_timeout —, 57P01 admin_shutdown, 57P03 cannot_connect_now).
 */
const UNAVAILABLE_SQLSTATE_CLASSES = new Set(["08", "53", "57"]);

function codeOf(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True when `err` (or an error it wraps as `cause`, e.g. Drizzle's DrizzleQueryError) says the
 * database is unreachable, slow or shutting down; false for everything else (constraint
 * violations, syntax errors, bugs).
 */
export function isStorageUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    if (e instanceof StorageTimeout) return true;
    const code = codeOf(e);
    if (code) {
      if (CONNECTION_CODES.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE_CLASSES.has(code.slice(0, 2))) return true;
    }
    // PGlite, once closing or closed, throws a plain Error with this message.
    if (e instanceof Error && /PGlite is clos(ing|ed)/i.test(e.message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
