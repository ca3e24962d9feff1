import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../domain/errors.ts";
import { CloseCode } from "../../rooms/closeCodes.ts";
import { parseCatchUp } from "../../rooms/protocol.ts";
import { isEnded } from "../../rooms/reconnect.ts";
import { ConfigError, parseConfig } from "../../server/config.ts";

/** The cluster's settings and the `catch_up` query's edge (docs/protocol.md §2.7, §2.8; README). */
describe("cluster settings", () => {
  it("PUBLIC_ADDRESS takes host[:port][/path] without a scheme", () => {
    for (const ok of ["10.0.0.5:2567", "inbox.example.com/p1", "localhost", "[::1]:2567", "a.b/c/d/"]) {
      expect(parseConfig({ PUBLIC_ADDRESS: ok }).publicAddress).toBe(ok.replace(/\/+$/, ""));
    }
    for (const bad of ["http://10.0.0.5:2567", "ws://x", "a b", "host?x=1", "/p1"]) {
      expect(() => parseConfig({ PUBLIC_ADDRESS: bad }), bad).toThrow(ConfigError);
      expect(() => parseConfig({ PUBLIC_ADDRESS: bad })).toThrow(/PUBLIC_ADDRESS/);
    }
    expect(parseConfig({}).publicAddress).toBeUndefined();
  });

  it("RECONNECT_WINDOW_SECONDS, SHUTDOWN_DEADLINE_SECONDS and ONLINE_TTL_SECONDS have defaults and ranges", () => {
    const d = parseConfig({});
    expect([d.reconnectWindowSeconds, d.shutdownDeadlineSeconds, d.onlineTtlSeconds]).toEqual([20, 25, 15]);
    expect(parseConfig({ RECONNECT_WINDOW_SECONDS: "0" }).reconnectWindowSeconds).toBe(0);
    for (const [name, bad] of [
      ["RECONNECT_WINDOW_SECONDS", "-1"],
      ["RECONNECT_WINDOW_SECONDS", "3601"],
      ["SHUTDOWN_DEADLINE_SECONDS", "0"],
      ["ONLINE_TTL_SECONDS", "2"],
      ["ONLINE_TTL_SECONDS", "1.5"],
    ] as const) {
      expect(() => parseConfig({ [name]: bad }), `${name}=${bad}`).toThrow(new RegExp(name));
    }
  });

  it("evictions and shutdown closes are endings (no seat kept); lost connections are drops", () => {
    for (const code of Object.values(CloseCode)) expect(isEnded(code)).toBe(true);
    for (const code of [1000, 4000, 4001, 4002, 4003]) expect(isEnded(code)).toBe(true);
    for (const code of [1001, 1005, 1006, undefined]) expect(isEnded(code)).toBe(false);
  });
});

describe("catch_up at the edge", () => {
  it("accepts afterSeq 0..2^31-1 and limit 1..200 (default 100)", () => {
    expect(parseCatchUp({ requestId: "r", afterSeq: 0 })).toEqual({ ok: true, request: { requestId: "r", afterSeq: 0, limit: 100 } });
    expect(parseCatchUp({ requestId: "r", afterSeq: 2_147_483_647, limit: 200 }).ok).toBe(true);
  });

  it("refuses anything else with INVALID_PAYLOAD and issues, echoing the request id", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ max: -1 }), fc.double({ min: 2_147_483_648, max: 1e15, noNaN: true }), fc.double({ noInteger: true }), fc.string(), fc.constant(null)),
        (afterSeq) => {
          const r = parseCatchUp({ requestId: "q", afterSeq });
          expect(r).toMatchObject({ ok: false, requestId: "q", code: ErrorCode.INVALID_PAYLOAD });
          expect((r as { issues: string[] }).issues.length).toBeGreaterThan(0);
        },
      ),
    );
    fc.assert(
      fc.property(fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 201 })), (limit) => {
        expect(parseCatchUp({ requestId: "q", afterSeq: 1, limit }).ok).toBe(false);
      }),
    );
    expect(parseCatchUp("x")).toMatchObject({ ok: false, requestId: null, code: ErrorCode.INVALID_PAYLOAD });
    expect(parseCatchUp({ requestId: "a\u0000b", afterSeq: 1 })).toMatchObject({ ok: false, code: ErrorCode.INVALID_PAYLOAD });
  });
});
