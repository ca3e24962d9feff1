import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeliveryStatus, advanceDelivery, deliveryAfterTold } from "../../domain/channels.ts";
import { DeliveryCode, type RetryPolicy, type SendOutcome, backoffCeilingMs, gate, stepAfterSend } from "../../domain/delivery.ts";

const policy: RetryPolicy = { maxAttempts: 6, baseMs: 1000, capMs: 60_000 };
const NOW = 1_700_000_000_000;
const transient = (retryAfterMs?: number): SendOutcome => ({ ok: false, transient: true, code: "LINE_HTTP_503", reason: "unavailable", retryAfterMs });

const arbPolicy = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 20 }),
  baseMs: fc.integer({ min: 1, max: 10_000 }),
  capMs: fc.integer({ min: 1, max: 600_000 }),
});
const arbRandom = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe("delivery steps (domain/delivery.ts)", () => {
  it("an accepted send is sent, with the provider's message id; a 200 is sent, not delivered", () => {
    expect(stepAfterSend({ ok: true, providerMessageId: "p-1" }, 0, NOW, policy, () => 0.5)).toEqual({ next: "sent", providerMessageId: "p-1" });
    expect(stepAfterSend({ ok: true }, 3, NOW, policy, () => 0.5)).toEqual({ next: "sent", providerMessageId: null });
  });

  it("a permanent refusal fails at once with the provider's code and reason, whatever the attempt", () => {
    const refused: SendOutcome = { ok: false, transient: false, code: "LINE_INVALID_RECIPIENT", reason: "The user hasn't added the LINE Official Account" };
    expect(stepAfterSend(refused, 0, NOW, policy, () => 0)).toEqual({ next: "failed", code: "LINE_INVALID_RECIPIENT", reason: refused.reason });
  });

  it("a transient failure retries later; the last allowed attempt fails DELIVERY_RETRIES_EXHAUSTED", () => {
    const s = stepAfterSend(transient(), 0, NOW, policy, () => 0.5);
    expect(s).toEqual({ next: "retry", atMs: NOW + 500, code: "LINE_HTTP_503", reason: "unavailable" });
    expect(stepAfterSend(transient(), policy.maxAttempts - 1, NOW, policy, () => 0.5)).toEqual({
      next: "failed",
      code: DeliveryCode.retriesExhausted,
      reason: "LINE_HTTP_503: unavailable",
    });
  });

  it("a disabled account holds the message; an active one sends", () => {
    expect(gate("disabled")).toBe("held");
    expect(gate("active")).toBe("send");
  });

  it("property: a retry is never before Retry-After and never past max(ceiling, Retry-After)", () => {
    fc.assert(
      fc.property(arbPolicy, fc.integer({ min: 0, max: 30 }), fc.option(fc.integer({ min: 0, max: 3_600_000 }), { nil: undefined }), arbRandom, (p, prior, after, r) => {
        const s = stepAfterSend(transient(after), prior, NOW, p, () => r);
        if (prior + 1 >= p.maxAttempts) {
          expect(s).toMatchObject({ next: "failed", code: DeliveryCode.retriesExhausted });
          return;
        }
        expect(s.next).toBe("retry");
        if (s.next !== "retry") return;
        expect(s.atMs).toBeGreaterThanOrEqual(NOW + (after ?? 0));
        expect(s.atMs).toBeLessThanOrEqual(NOW + Math.max(backoffCeilingMs(prior + 1, p), after ?? 0));
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("property: the backoff ceiling never shrinks with more failures and never exceeds the cap", () => {
    fc.assert(
      fc.property(arbPolicy, fc.integer({ min: 1, max: 100 }), (p, n) => {
        expect(backoffCeilingMs(n + 1, p)).toBeGreaterThanOrEqual(backoffCeilingMs(n, p));
        expect(backoffCeilingMs(n, p)).toBeLessThanOrEqual(p.capMs);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("property: transient failures every time end failed after exactly maxAttempts sends", () => {
    fc.assert(
      fc.property(arbPolicy, arbRandom, (p, r) => {
        let attempts = 0;
        let now = NOW;
        for (;;) {
          const s = stepAfterSend(transient(), attempts, now, p, () => r);
          attempts++;
          if (s.next === "failed") break;
          if (s.next !== "retry") throw new Error("unexpected step");
          now = s.atMs;
        }
        expect(attempts).toBe(p.maxAttempts);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it("property: statuses never move backwards; failed is final (advanceDelivery)", () => {
    const rank = { queued: 0, held: 0, sent: 1, delivered: 2, read: 3, failed: 4 } as const;
    const arb = fc.constantFrom(...Object.values(DeliveryStatus));
    fc.assert(
      fc.property(fc.array(arb, { maxLength: 8 }), (reports) => {
        let s: DeliveryStatus = DeliveryStatus.queued;
        for (const r of reports) {
          const next = advanceDelivery(s, r);
          if (s === "failed") expect(next).toBe("failed");
          else expect(rank[next]).toBeGreaterThanOrEqual(rank[s]);
          s = next;
        }
      }),
      { seed: 42, numRuns: 500 },
    );
    expect(advanceDelivery("read", "delivered")).toBe("read");
  });

  it("property: a room told of each change, late, twice or out of order, ends showing what storage holds (deliveryAfterTold)", () => {
    const arbStatus = fc.constantFrom(...Object.values(DeliveryStatus));
    fc.assert(
      fc.property(
        arbStatus,
        fc.array(arbStatus, { maxLength: 10 }),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.func(fc.integer()),
        (start, reports, restoreAt, extra, order) => {
          // Storage: each report moves the stored status by the domain's rule; a change is told with the status after it.
          const stored: DeliveryStatus[] = [start];
          const tells: { at: number; status: DeliveryStatus }[] = [];
          for (const r of reports) {
            const before = stored.at(-1)!;
            const after = advanceDelivery(before, r);
            stored.push(after);
            if (after !== before) tells.push({ at: stored.length - 1, status: after });
          }
          const final = stored.at(-1)!;
          // The room restores at some point (it subscribed before): every later telling reaches it, and any earlier ones may too.
          const k = restoreAt % stored.length;
          const received = [...tells.filter((t) => t.at > k), ...extra.map((i) => tells[i % Math.max(1, tells.length)]).filter((t) => t !== undefined)];
          received.sort((a, b) => order(a.at, a.status) - order(b.at, b.status));
          let shown: DeliveryStatus = stored[k]!;
          for (const t of received) {
            const step = deliveryAfterTold(shown, t.status);
            if (step === "told") shown = t.status;
            else if (step === "read") shown = final; // a read after every commit: storage as it ends
          }
          expect(shown).toBe(final);
        },
      ),
      { seed: 7, numRuns: 2000 },
    );
    expect(deliveryAfterTold("read", "delivered")).toBe("kept");
    expect(deliveryAfterTold("queued", "sent")).toBe("told");
    expect(deliveryAfterTold("sent", "held")).toBe("read");
    expect(deliveryAfterTold(null, "sent")).toBe("read");
    expect(deliveryAfterTold("failed", "read")).toBe("kept");
  });
});
