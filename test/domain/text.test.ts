import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isStorableText, unstorablePaths } from "../../domain/text.ts";

/** What PostgreSQL keeps exactly: UTF-8 that round-trips, and no NUL. The oracle of the check. */
function storesExactly(s: string): boolean {
  return !s.includes("\u0000") && Buffer.from(s, "utf8").toString("utf8") === s;
}

/** Strings of any UTF-16 code units: lone surrogates, NUL, pairs (4-byte characters) and the rest. */
const anyUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 12 }).map((units) => String.fromCharCode(...units));
const mixed = fc.array(fc.constantFrom("a", "中", "😀", "\u0000", "\ud800", "\udc00", "\ud83d\ude00", "é"), { maxLength: 12 }).map((p) => p.join(""));

describe("storable text (domain/text.ts): the one check of every edge", () => {
  it("accepts exactly the strings storage keeps unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(anyUnits, mixed), (s) => {
        expect(isStorableText(s)).toBe(storesExactly(s));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it("names the path of every unstorable string and key, in document order, up to the limit", () => {
    expect(unstorablePaths({ text: "ok", memberIds: ["a", "b\u0000"], nested: { deep: ["\ud800"] } })).toEqual(["memberIds.1", "nested.deep.0"]);
    expect(unstorablePaths({ "k\u0000": 1 })).toEqual(["k\u0000 (key)"]);
    expect(unstorablePaths("\u0000")).toEqual(["(root)"]);
    expect(unstorablePaths(Array.from({ length: 50 }, () => "\u0000"), 10)).toHaveLength(10);
    expect(unstorablePaths({ n: 1, b: true, z: null, e: "😀中文" })).toEqual([]);
  });

  it("walks a value nested tens of thousands of levels deep without exhausting the stack", () => {
    const deep = JSON.parse(`${"[".repeat(40_000)}"\\u0000"${"]".repeat(40_000)}`);
    expect(unstorablePaths(deep)).toHaveLength(1);
  });
});
