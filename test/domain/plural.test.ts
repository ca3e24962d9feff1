import { describe, expect, it } from "vitest";
import { SystemKind } from "../../domain/events.ts";
import { type NameOf, renderSystem } from "../../domain/texts.ts";

/** English singular and plural in system messages (docs/protocol.md §4); zh-TW exactly as SPEC. */
const N: NameOf = (id) => ({ a: "Amy", b: "Ben", c: "Cathy" })[id ?? ""] ?? "?";

describe("system messages count the others in correct English", () => {
  it("[R2.6] members_joined: one, `and 1 other`, `and 2 others`; zh-TW 與其他 n 人", () => {
    const joined = (ids: string[], locale: "en" | "zh-TW") => renderSystem({ kind: SystemKind.members_joined, subjectIds: ids }, locale, N);
    expect(joined(["a"], "en")).toBe("Amy joined the collaborative conversation");
    expect(joined(["a", "b"], "en")).toBe("Amy and 1 other joined the collaborative conversation");
    expect(joined(["a", "b", "c"], "en")).toBe("Amy and 2 others joined the collaborative conversation");
    expect(joined(["a", "b"], "zh-TW")).toBe("Amy 與其他 1 人加入了協作對話");
    expect(joined(["a", "b", "c"], "zh-TW")).toBe("Amy 與其他 2 人加入了協作對話");
  });

  it("[R3.4] members_left: one, `and 1 other`, `and 2 others`; zh-TW 與其他 n 人", () => {
    const left = (ids: string[], locale: "en" | "zh-TW") => renderSystem({ kind: SystemKind.members_left, subjectIds: ids }, locale, N);
    expect(left(["a"], "en")).toBe("Amy left the collaborative conversation");
    expect(left(["a", "b"], "en")).toBe("Amy and 1 other left the collaborative conversation");
    expect(left(["a", "b", "c"], "en")).toBe("Amy and 2 others left the collaborative conversation");
    expect(left(["a", "b"], "zh-TW")).toBe("Amy 與其他 1 人退出了協作對話");
  });
});
