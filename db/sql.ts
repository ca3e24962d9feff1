/** Small SQL helpers shared by the queries of db/, rooms/ and server/. */

/** `%`, `_` and the escape character itself match literally inside a LIKE pattern: a plain substring. */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** The rows of a raw `execute` on either driver (PGlite answers `{ rows }`; postgres.js an array). */
export function executeRows<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return (result as { rows?: T[] }).rows ?? [];
}
