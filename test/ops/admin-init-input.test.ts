import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStorableText } from "../../domain/text.ts";
import { InitCode, InitRefused, MIN_PASSWORD, WORKSPACE_ID, parseInitInput } from "../../server/cli/initInput.ts";

/**
 * admin:init's input surface, as properties: valid input is accepted (the email lower-cased),
 * any field carrying a NUL or a lone surrogate is refused with INVALID_INPUT naming that field,
 * passwords are accepted exactly when 8–200 storable characters, and a refusal never quotes the
 * password. (The CLI itself is run as a process in admin-init.test.ts.)
 */

const slug = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s.trim().length > 0 && isStorableText(s));
const email = fc.tuple(fc.stringMatching(/^[A-Za-z0-9]{1,12}$/), fc.stringMatching(/^[a-z0-9]{1,12}$/)).map(([l, d]) => `${l}@${d}.test`);
const password = fc.string({ minLength: MIN_PASSWORD, maxLength: 60 }).filter((s) => [...s].length >= MIN_PASSWORD).filter((s) => isStorableText(s));
const valid = fc.record({
  workspaceId: slug,
  workspaceName: name,
  adminEmail: email,
  adminName: name,
  adminLocale: fc.constantFrom("zh-TW", "en"),
  password: fc.option(password, { nil: undefined }),
  webchatName: fc.option(name, { nil: undefined }),
  anotherWorkspace: fc.boolean(),
});
/** A text made unstorable: a NUL or a lone surrogate put somewhere in it. */
const spoil = (s: string, bad: string, at: number) => s.slice(0, at % (s.length + 1)) + bad + s.slice(at % (s.length + 1));
const unstorable = fc.constantFrom("\u0000", "\uD800", "\uDFFF");

function refusal(input: unknown): InitRefused {
  try {
    parseInitInput(input);
  } catch (e) {
    if (e instanceof InitRefused) return e;
    throw e;
  }
  throw new Error("accepted");
}

describe("admin:init input", () => {
  it("accepts valid input; the email is stored lower-cased, names trimmed", () => {
    fc.assert(
      fc.property(valid, (input) => {
        const parsed = parseInitInput(input);
        expect(parsed.adminEmail).toBe(input.adminEmail.toLowerCase());
        expect(parsed.workspaceName).toBe(input.workspaceName.trim());
        expect(parsed.password).toBe(input.password);
        expect(WORKSPACE_ID.test(parsed.workspaceId)).toBe(true);
      }),
    );
  });

  it("refuses a NUL or a lone surrogate in any text field, naming the field", () => {
    const fields = ["workspaceId", "workspaceName", "adminEmail", "adminName", "password", "webchatName"] as const;
    fc.assert(
      fc.property(valid, fc.constantFrom(...fields), unstorable, fc.nat(), (input, field, bad, at) => {
        const spoiled = { ...input, [field]: spoil(input[field] ?? "fallback-text", bad, at) };
        const e = refusal(spoiled);
        expect(e.code).toBe(InitCode.INVALID_INPUT);
        expect(e.issues.some((i) => i.startsWith(`${field}:`))).toBe(true);
        if (spoiled.password) expect(e.message).not.toContain(spoiled.password);
      }),
    );
  });

  it("accepts a password exactly when it has 8–200 storable characters, and never quotes it", () => {
    fc.assert(
      fc.property(valid, fc.string({ maxLength: 220, unit: "binary" }), (input, pw) => {
        const chars = [...pw].length; // characters are code points, as zod counts them
        const ok = chars >= MIN_PASSWORD && chars <= 200 && isStorableText(pw);
        if (ok) {
          expect(parseInitInput({ ...input, password: pw }).password).toBe(pw);
        } else {
          const e = refusal({ ...input, password: pw });
          expect(e.issues.some((i) => i.startsWith("password:"))).toBe(true);
          // Never quoted: the refusal reads the same for any password of its length and kind (a
          // check for the password as a substring fails by chance: "val" is in "invalid").
          const same = isStorableText(pw) ? "a".repeat(chars) : "\u0000".repeat(chars);
          expect(e.message).toBe(refusal({ ...input, password: same }).message);
        }
      }),
    );
  });

  it("refuses bad emails, ids and locales with INVALID_INPUT", () => {
    for (const [patch, field] of [
      [{ adminEmail: "not-an-email" }, "adminEmail"],
      [{ adminEmail: "a@b" }, "adminEmail"],
      [{ workspaceId: "Main" }, "workspaceId"],
      [{ workspaceId: "-x" }, "workspaceId"],
      [{ workspaceId: "a".repeat(64) }, "workspaceId"],
      [{ adminLocale: "fr" }, "adminLocale"],
      [{ workspaceName: "   " }, "workspaceName"],
    ] as [Record<string, string>, string][]) {
      const e = refusal({ workspaceId: "main", workspaceName: "Acme", adminEmail: "a@acme.test", adminName: "A", adminLocale: "en", anotherWorkspace: false, ...patch });
      expect([e.code, e.issues.some((i) => i.startsWith(`${field}:`))]).toEqual([InitCode.INVALID_INPUT, true]);
    }
  });
});
