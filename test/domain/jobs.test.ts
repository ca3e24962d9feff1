import { describe, expect, it } from "vitest";
import { JOB_KINDS, JobKind, parseJobInput } from "../../domain/jobs.ts";
import { targetIdsOf } from "../../domain/targets.ts";
import { act } from "./fixtures.ts";

/** Job kinds as one closed set, and stored job inputs parsed (never cast) before a job runs. */

describe("job inputs", () => {
  it("each kind's input parses into its own shape; unknown fields are dropped", () => {
    expect(parseJobInput(JobKind.bulk_close, { view: "mine" })).toEqual({ ok: true, job: { kind: "bulk_close", input: { view: "mine" } } });
    expect(parseJobInput(JobKind.bulk_reopen, { view: "team", extra: 1 })).toEqual({
      ok: true,
      job: { kind: "bulk_reopen", input: { view: "team" } },
    });
    expect(parseJobInput(JobKind.bulk_transfer, { view: "mine", memberId: "m1" })).toEqual({
      ok: true,
      job: { kind: "bulk_transfer", input: { view: "mine", memberId: "m1" } },
    });
    expect(parseJobInput(JobKind.member_delete, { memberId: "m1" })).toEqual({
      ok: true,
      job: { kind: "member_delete", input: { memberId: "m1" } },
    });
  });

  it("a missing or malformed input is a reason for the job to fail, naming the field", () => {
    const bad: [string, unknown, string][] = [
      [JobKind.bulk_transfer, { view: "mine" }, "memberId"],
      [JobKind.bulk_close, { view: "everyone" }, "view"],
      [JobKind.bulk_close, null, "(root)"],
      [JobKind.member_deactivate, { memberId: "" }, "memberId"],
      [JobKind.member_deactivate, { memberId: 7 }, "memberId"],
    ];
    for (const [kind, input, field] of bad) {
      const r = parseJobInput(kind, input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain(field);
    }
  });

  it("an unknown kind is refused, and the closed set lists every kind once", () => {
    expect(parseJobInput("bulk_delete", {})).toEqual({ ok: false, reason: 'unknown job kind "bulk_delete"' });
    expect(JOB_KINDS).toEqual(["bulk_close", "bulk_reopen", "bulk_transfer", "member_deactivate", "member_delete"]);
  });
});

describe("action targets", () => {
  it("the members an action names are its targets; the others name none", () => {
    expect(targetIdsOf(act.add("n1", "n2"))).toEqual(["n1", "n2"]);
    expect(targetIdsOf(act.remove("c1"))).toEqual(["c1"]);
    expect(targetIdsOf(act.transfer("c2"))).toEqual(["c2"]);
    expect(targetIdsOf({ type: "member_departed", requestId: "r", memberId: "gone" })).toEqual(["gone"]);
    for (const a of [
      act.reply(),
      act.join(),
      act.leave(),
      act.takeOver(),
      act.close(),
      act.reopen(),
      act.pin(),
      act.unpin(),
      act.markRead(),
      act.customerMessage(),
    ]) {
      expect(targetIdsOf(a)).toEqual([]);
    }
  });
});
