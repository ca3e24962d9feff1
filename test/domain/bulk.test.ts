import { describe, expect, it } from "vitest";
import { bulkAction, bulkTransferable, MAX_NAMED_OFFENDERS, requireBulkTransferable, requireTransferTarget } from "../../domain/bulk.ts";
import { DomainError, ErrorCode as Code } from "../../domain/errors.ts";
import { JobKind } from "../../domain/jobs.ts";
import { ConversationKind, MemberStatus, Role, View } from "../../domain/sets.ts";
import { asMember, collaborative, conversation, PEOPLE, refusal, run } from "./fixtures.ts";

/** Bulk actions' own rules (SPEC R7.5) and the target check of a bulk transfer, as pure functions. */

const shape = (id: string, kind: ConversationKind, collaboratorIds: string[] = []) => ({ id, kind, collaboratorIds });

function refusalOf(f: () => void): { code: Code; detail: unknown } | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof DomainError) return { code: e.code, detail: e.detail };
    throw e;
  }
}

describe("R7.5 bulk transfer", () => {
  it("[R7.5] a collaborative conversation cannot be transferred in bulk", () => {
    expect(bulkTransferable(collaborative(["c1"]))).toBe(false);
    expect(bulkTransferable(collaborative(["c1", "c2", "c3", "c4", "c5"]))).toBe(false);
  });

  it("[R7.5] a group conversation cannot be transferred in bulk, with or without collaborators", () => {
    expect(bulkTransferable(conversation({ kind: ConversationKind.group }))).toBe(false);
    expect(bulkTransferable(collaborative(["c1"], { kind: ConversationKind.group }))).toBe(false);
  });

  it("[R7.5] a 1-on-1 conversation (no collaborator, not a group) can, whatever its status or follower", () => {
    expect(bulkTransferable(conversation())).toBe(true);
    expect(bulkTransferable(conversation({ followerId: null, status: "pending" }))).toBe(true);
    expect(bulkTransferable(conversation({ status: "closed" }))).toBe(true);
  });

  it("[R7.5] a selection holding any collaborative or group conversation is refused whole, naming the offenders", () => {
    const plain = [shape("a", ConversationKind.direct), shape("b", ConversationKind.direct)];
    expect(refusalOf(() => requireBulkTransferable(plain))).toBeNull();
    expect(refusalOf(() => requireBulkTransferable([]))).toBeNull();
    for (const offender of [shape("x", ConversationKind.direct, ["c1"]), shape("x", ConversationKind.group)]) {
      for (const selection of [[offender], [...plain, offender], [offender, ...plain]]) {
        expect(refusalOf(() => requireBulkTransferable(selection))).toEqual({
          code: Code.BULK_TRANSFER_COLLABORATIVE,
          detail: { conversationIds: ["x"] },
        });
      }
    }
    const both = [shape("g", ConversationKind.group), ...plain, shape("c", ConversationKind.direct, ["c2"])];
    expect(refusalOf(() => requireBulkTransferable(both))?.detail).toEqual({ conversationIds: ["g", "c"] });
  });

  it("[R7.5] the refusal names at most MAX_NAMED_OFFENDERS conversations, however many there are", () => {
    const many = Array.from({ length: MAX_NAMED_OFFENDERS + 50 }, (_, i) => shape(`g${i}`, ConversationKind.group));
    const r = refusalOf(() => requireBulkTransferable(many));
    expect(r?.code).toBe(Code.BULK_TRANSFER_COLLABORATIVE);
    expect((r!.detail as { conversationIds: string[] }).conversationIds).toHaveLength(MAX_NAMED_OFFENDERS);
  });

  it("[R7.5] a 1-on-1 item of a bulk transfer goes through the room as a single transfer: to any active member", () => {
    const action = bulkAction({ kind: JobKind.bulk_transfer, input: { view: View.mine, memberId: "n1" } }, "job:1");
    expect(action).toEqual({ type: "transfer", requestId: "job:1", memberId: "n1" });
    const d = run(conversation(), action, asMember("fol"));
    expect([d.next.followerId, d.next.collaboratorIds]).toEqual(["n1", []]);
  });

  it("[R7.5] [R7.1] a 1-on-1 item is still refused to an actor who does not follow it", () => {
    const action = bulkAction({ kind: JobKind.bulk_transfer, input: { view: View.mine, memberId: "n1" } }, "job:2");
    expect(refusal(() => run(conversation(), action, asMember("agt")))).toBe(Code.TRANSFER_NOT_ALLOWED);
  });
});

describe("the target of a bulk transfer", () => {
  const members = new Map(Object.values(PEOPLE).map(({ id, role, status }) => [id, { id, role, status }]));

  it("an active member of the workspace is a target", () => {
    expect(refusalOf(() => requireTransferTarget("n1", members))).toBeNull();
    expect(refusalOf(() => requireTransferTarget("adm", members))).toBeNull();
  });

  it("an unknown member (or one of another workspace, absent from the map) is TARGET_NOT_FOUND", () => {
    expect(refusalOf(() => requireTransferTarget("nobody", members))).toEqual({
      code: Code.TARGET_NOT_FOUND,
      detail: { memberId: "nobody" },
    });
    expect(refusalOf(() => requireTransferTarget("n1", new Map()))?.code).toBe(Code.TARGET_NOT_FOUND);
  });

  it("a deactivated or deleted member is TARGET_INACTIVE", () => {
    expect(refusalOf(() => requireTransferTarget("gone", members))).toEqual({ code: Code.TARGET_INACTIVE, detail: { memberId: "gone" } });
    expect(refusalOf(() => requireTransferTarget("deleted", members))?.code).toBe(Code.TARGET_INACTIVE);
    const one = new Map([["x", { id: "x", role: Role.agent, status: MemberStatus.deactivated }]]);
    expect(refusalOf(() => requireTransferTarget("x", one))?.code).toBe(Code.TARGET_INACTIVE);
  });
});

describe("bulk items", () => {
  it("[R8.5] [R9.5] close and reopen items are the actor's own close and reopen, carrying the job's request id", () => {
    expect(bulkAction({ kind: JobKind.bulk_close, input: { view: View.mine } }, "job:3")).toEqual({ type: "close", requestId: "job:3" });
    expect(bulkAction({ kind: JobKind.bulk_reopen, input: { view: View.team } }, "job:4")).toEqual({ type: "reopen", requestId: "job:4" });
  });
});
