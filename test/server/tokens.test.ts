import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { WORKSPACE } from "../rooms/helpers.ts";
import { ID, sdk, useTestServer } from "../support/server.ts";

/**
 * Access tokens are accepted only with `exp`, `sub` and the token version `tv` (docs/protocol.md
 * §1): a token signed with the server's own secret but missing one is UNAUTHENTICATED over HTTP
 * and at every room's join. Each refusal is paired with the same token carrying every claim, which
 * is accepted: the secret is right, only the missing claim is refused.
 */
const SECRET = new TextEncoder().encode("test-secret-test-secret-test-secret-42"); // test/support/server.ts

const app = useTestServer();

interface Claims {
  sub?: boolean;
  exp?: string | number | false;
  tv?: unknown;
}

/** Dan's token (agent, token version 0 as seeded), signed like server/auth.ts's, with claims left out or changed. */
function token(c: Claims = {}): Promise<string> {
  const payload: Record<string, unknown> = { ws: WORKSPACE, role: "agent" };
  if (c.tv !== undefined) payload.tv = c.tv;
  else if (!("tv" in c)) payload.tv = 0;
  let jwt = new SignJWT(payload).setProtectedHeader({ alg: "HS256" }).setIssuedAt();
  if (c.sub !== false) jwt = jwt.setSubject(ID.agent);
  if (c.exp !== false) jwt = jwt.setExpirationTime(c.exp ?? "10m");
  return jwt.sign(SECRET);
}

async function me(t: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${app.url}/api/v2/me`, { headers: { authorization: `Bearer ${t}` } });
  return { status: res.status, code: ((await res.json()) as { code?: string }).code };
}

/** Joins each room Dan may join; resolves with the refusal of each (null when it was accepted). */
async function joins(t: string): Promise<({ code: number; message: string } | null)[]> {
  const attempts = [
    () => sdk(app, t).joinOrCreate("conversation", { conversationId: "demo-direct", view: "mine" }),
    () => sdk(app, t).joinOrCreate("inbox", { memberId: ID.agent }),
  ];
  const out: ({ code: number; message: string } | null)[] = [];
  for (const attempt of attempts) {
    try {
      const room = await attempt();
      await room.leave();
      out.push(null);
    } catch (e) {
      const err = e as { code: number; message: string };
      out.push({ code: err.code, message: err.message });
    }
  }
  return out;
}

const refusedAtJoin = (code: string) => [
  { code: 401, message: expect.stringMatching(new RegExp(`^${code}:`)) },
  { code: 401, message: expect.stringMatching(new RegExp(`^${code}:`)) },
];

describe("access tokens", () => {
  it("a token with every claim is accepted over HTTP and at join (the control)", async () => {
    const t = await token();
    expect(await me(t)).toMatchObject({ status: 200 });
    expect(await joins(t)).toEqual([null, null]);
  });

  it("a token without an expiry is refused with UNAUTHENTICATED over HTTP and at join", async () => {
    const t = await token({ exp: false });
    expect(await me(t)).toEqual({ status: 401, code: "UNAUTHENTICATED" });
    expect(await joins(t)).toEqual(refusedAtJoin("UNAUTHENTICATED"));
  });

  it("a token without a subject or without a token version is refused with UNAUTHENTICATED", async () => {
    for (const claims of [{ sub: false }, { tv: undefined }, { tv: "0" }] as Claims[]) {
      const t = await token(claims);
      expect([claims, await me(t)]).toEqual([claims, { status: 401, code: "UNAUTHENTICATED" }]);
      expect(await joins(t)).toEqual(refusedAtJoin("UNAUTHENTICATED"));
    }
  });

  it("an expired token is TOKEN_EXPIRED (refresh, then retry)", async () => {
    const t = await token({ exp: Math.floor(Date.now() / 1000) - 120 });
    expect(await me(t)).toEqual({ status: 401, code: "TOKEN_EXPIRED" });
    expect(await joins(t)).toEqual(refusedAtJoin("TOKEN_EXPIRED"));
  });
});
