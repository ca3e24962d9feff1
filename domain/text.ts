import { z } from "zod";

/**
 * What text the server accepts, at every edge (room messages, HTTP bodies, query strings, path
 * parameters, webhooks). PostgreSQL cannot store U+0000 in `text`, and a lone UTF-16 surrogate
 * cannot be encoded as UTF-8 (it would be stored as U+FFFD, silently changing the text). Both are
 * refused with `INVALID_PAYLOAD`, never stripped: a client learns its input was wrong instead of
 * seeing something else stored. Every other character, 4-byte ones (emoji, CJK extension B)
 * included, is accepted.
 */
export const UNSTORABLE_TEXT_ISSUE = "contains a NUL character or a lone surrogate, which cannot be stored";

/** True when `s` can be stored and read back exactly. */
export function isStorableText(s: string): boolean {
  return !s.includes("\u0000") && !LONE_SURROGATE.test(s);
}

// In `u` mode a well-formed surrogate pair is one code point, so `\p{Cs}` matches only lone halves.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The paths (`a.b.0`) of every string in `value` (keys included) that cannot be stored, up to
 * `limit` of them, in document order. Walks plain JSON values with its own stack, not recursion:
 * a 64 KiB body can nest tens of thousands of levels deep.
 */
export function unstorablePaths(value: unknown, limit = 10): string[] {
  const found: string[] = [];
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length && found.length < limit) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (!isStorableText(v)) found.push(path || "(root)");
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    const children: [unknown, string][] = [];
    for (const [k, item] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (!Array.isArray(v) && !isStorableText(k)) found.push(`${p} (key)`);
      children.push([item, p]);
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return found.slice(0, limit);
}

/** A zod string that refuses unstorable characters: use it for any string that may reach storage. */
export function storableString() {
  return z.string().refine(isStorableText, { message: UNSTORABLE_TEXT_ISSUE });
}
