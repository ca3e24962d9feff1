import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PREVIEW_MAX_CHARS, previewOf, pushPayload } from "../../domain/push.ts";
import { Status } from "../../domain/sets.ts";
import { renderPush } from "../../domain/texts.ts";
import { act, asCustomer, collaborative, conversation, run } from "../domain/fixtures.ts";

/** Who gets a push (decide's `push` effect) and what it says: the pure parts. */
describe("who gets a push", () => {
  const pushOf = (c: Parameters<typeof run>[0]) => run(c, act.customerMessage(), asCustomer()).effects.filter((e) => e.kind === "push");

  it("[R12.1] in_progress collaborative: the follower and every collaborator", () => {
    expect(pushOf(collaborative(["c1", "c2"]))).toEqual([{ kind: "push", memberIds: ["fol", "c1", "c2"] }]);
  });

  it("[R12.1] a closed collaborative conversation written to comes back in_progress (R8.4) and pushes to all of them", () => {
    expect(pushOf(collaborative(["c1"], { status: Status.closed }))).toEqual([{ kind: "push", memberIds: ["fol", "c1"] }]);
  });

  it("an in_progress 1-on-1: its follower", () => {
    expect(pushOf(conversation())).toEqual([{ kind: "push", memberIds: ["fol"] }]);
  });

  it("pending, and a closed 1-on-1 that goes back to pending: nobody", () => {
    expect(pushOf(conversation({ status: Status.pending, followerId: null }))).toEqual([]);
    expect(pushOf(conversation({ status: Status.closed }))).toEqual([]);
  });
});

describe("what a push says", () => {
  it(`the preview keeps at most ${PREVIEW_MAX_CHARS} code points, never splits a surrogate pair, and folds whitespace`, () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (text) => {
        const p = previewOf(text);
        expect(Array.from(p).length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS);
        expect(p).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
        expect(p).not.toMatch(/\s{2}/u);
      }),
    );
    expect(previewOf("😀".repeat(150))).toBe(`${"😀".repeat(99)}…`);
    expect(previewOf("  a\n\nb  ")).toBe("a b");
  });

  it("the title says who wrote and how many, in zh-TW and English", () => {
    expect(renderPush({ customerName: "王小明", count: 1, preview: "p" }, "zh-TW")).toEqual({ title: "王小明 傳來新訊息", body: "p" });
    expect(renderPush({ customerName: "王小明", count: 3, preview: "p" }, "zh-TW").title).toBe("王小明 傳來 3 則新訊息");
    expect(renderPush({ customerName: "Ann", count: 1, preview: "p" }, "en").title).toBe("New message from Ann");
    expect(renderPush({ customerName: "Ann", count: 10, preview: "p" }, "en").title).toBe("10 new messages from Ann");
    expect(pushPayload({ conversationId: "c", customerName: "Ann", count: 2, latestText: "hi", unread: 2, totalUnread: 5, locale: "en" })).toMatchObject({
      body: "hi",
      preview: "hi",
      count: 2,
    });
  });
});
