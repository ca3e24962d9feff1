import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type ActionAnswer,
  ApiError,
  applyListDelta,
  CloseCode,
  CloseReason,
  ERROR_CODES,
  ErrorCode,
  InboxClient,
  JoinError,
  type ListDelta,
  type LoadedPage,
  type Notice,
} from "../../client/index.ts";
import { ErrorCode as ServerErrorCode } from "../../domain/errors.ts";
import { CloseCode as ServerCloseCode } from "../../rooms/closeCodes.ts";
import { EMAIL, ID, NAME } from "../support/demo.ts";
import { createConversation } from "../support/fixtures.ts";
import { useTestServer, waitFor } from "../support/server.ts";
import { signedIn, tracked } from "./support.ts";

/** The typed client (client/, docs/protocol.md §0) against a real server. */
const app = useTestServer();

/** The SDK's complaints (e.g. `onMessage() not registered for type 'list'`) during a test. */
let warnings: string[] = [];
beforeEach(() => {
  warnings = [];
  vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => {
    warnings.push(args.map(String).join(" "));
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

const accepted = (a: ActionAnswer) => {
  if (!a.ok) throw new Error(`refused: ${a.code} ${a.message}`);
  return a;
};

describe("codes", () => {
  it("the client's error and close codes are the server's own objects (one source)", () => {
    expect(ErrorCode).toBe(ServerErrorCode);
    expect(CloseCode).toBe(ServerCloseCode);
  });
});

describe("sign-in and refresh (docs/protocol.md §1)", () => {
  it("logs in, refreshes (the old refresh token then fails), and refuses a wrong password with its code", async () => {
    const client = await signedIn(app, "agent");
    expect(client.member).toMatchObject({ id: ID.agent, name: NAME.agent, role: "agent", workspaceId: "demo" });
    const first = client.session!;
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 800_000);
    const second = await client.refresh();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const again = await client.http.POST("/auth/refresh", { body: { refreshToken: first.refreshToken } });
    expect(again.response.status).toBe(401);
    expect(again.error?.code).toBe("UNAUTHENTICATED");
    const wrong = await client.login("agent@demo.test", "not-the-password").catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ApiError);
    expect(wrong).toMatchObject({ status: 401, code: ErrorCode.INVALID_CREDENTIALS });
  });

  it("refreshes the access token by itself before it runs out, for HTTP calls and room joins", async () => {
    const sessions: string[] = [];
    // Every token counts as about to expire: each call refreshes first.
    const client = new InboxClient({
      url: app.url,
      refreshBeforeMs: 3_600_000,
      onSession: (s) => void (s && sessions.push(s.refreshToken)),
    });
    await client.login(EMAIL.agent, "demo-password");
    expect(sessions).toHaveLength(1);
    expect((await client.me()).id).toBe(ID.agent);
    expect(sessions).toHaveLength(2);
    const c = await createConversation(app, { follower: ID.agent });
    const view = tracked(await client.openConversation(c.id));
    expect(view.state.id).toBe(c.id);
    expect(sessions).toHaveLength(3);
    expect(new Set(sessions).size).toBe(3);
  });
});

describe("openConversation (docs/protocol.md §2.1–2.2)", () => {
  it("resolves once the first state has arrived, typed", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["一", "二"] });
    const client = await signedIn(app, "agent");
    const view = tracked(await client.openConversation(c.id, "mine"));
    expect(view.state.id).toBe(c.id);
    expect(view.state.status).toBe("in_progress");
    expect(view.state.follower?.id).toBe(ID.agent);
    expect(view.state.messages.map((m) => m.body)).toEqual(["一", "二"]);
    expect(view.state.me.get(ID.agent)?.memberId).toBe(ID.agent);
    expect(view.timeline().map((m) => m.text)).toEqual(["一", "二"]);
    expect(warnings).toEqual([]);
  });

  it("a refused join rejects with JoinError and its stable code", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const other = await signedIn(app, "agent2");
    const refused = await other.openConversation(c.id, "mine").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JoinError);
    expect(refused).toMatchObject({ status: 403, code: ErrorCode.VIEW_NOT_ALLOWED });
    const missing = await other.openConversation("no-such-conversation", "mine").catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});

describe("actions: one method each, typed answers (docs/protocol.md §2.3–2.4)", () => {
  it("[R2.1] [R6.1] [R7.1] [R8.1] [R9.1] [R12.2] [R4.1] every action answers ok with its seq, a retried request id answers duplicate, a refusal carries its code", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const agent = await signedIn(app, "agent");
    const manager = await signedIn(app, "manager");
    const agent2 = await signedIn(app, "agent2");
    const supervisor = await signedIn(app, "supervisor");
    const a = tracked(await agent.openConversation(c.id));

    const reply = accepted(await a.reply("您好", "fixed-id"));
    expect(reply.seq).toBe(a.state.lastSeq);
    expect(await a.reply("您好", "fixed-id")).toMatchObject({ requestId: "fixed-id", ok: true, duplicate: true });
    const empty = await a.reply("   ");
    expect(empty).toMatchObject({ ok: false, code: ErrorCode.INVALID_PAYLOAD });
    expect(!empty.ok && empty.issues?.length).toBeTruthy();

    accepted(await a.addCollaborators([ID.manager, ID.agent2]));
    const m = tracked(await manager.openConversation(c.id));
    const e2 = tracked(await agent2.openConversation(c.id));
    accepted(await m.takeOver());
    await waitFor(() => a.state.follower?.id === ID.manager);
    const refusal = await a.close();
    expect(refusal).toMatchObject({ ok: false, code: ErrorCode.COLLABORATOR_CANNOT_CLOSE });
    expect(!refusal.ok && refusal.message).toBeTruthy();
    accepted(await m.transfer(ID.agent));
    accepted(await m.removeCollaborators([ID.agent2]));
    await waitFor(() => e2.closed !== null);
    expect(e2.closed).toEqual({ code: CloseCode.removed, reason: CloseReason.removed });
    accepted(await a.pin());
    await waitFor(() => a.state.me.get(ID.agent)?.pinned === true);
    accepted(await a.unpin());
    accepted(await a.markRead());
    const leaving = await signedIn(app, "manager");
    const m2 = tracked(await leaving.openConversation(c.id));
    accepted(await m2.leaveConversation());
    await waitFor(() => m.closed !== null && m2.closed !== null);
    expect(m.closed).toEqual({ code: CloseCode.left, reason: CloseReason.left });

    const s = tracked(await supervisor.openConversation(c.id, "team"));
    accepted(await s.join());
    accepted(await a.close());
    await waitFor(() => s.closed !== null);
    expect(s.closed).toEqual({ code: CloseCode.closed, reason: CloseReason.closed });
    accepted(await a.reopen());
    await waitFor(() => a.state.status === "in_progress");
    expect(warnings).toEqual([]);
  });

  it("a request to a view that closed rejects; its queries answer typed pages", async () => {
    const c = await createConversation(app, { follower: ID.agent, texts: ["a", "b", "c"] });
    const client = await signedIn(app, "agent");
    const v = tracked(await client.openConversation(c.id));
    accepted(await v.close());
    // The demo workspace sends the survey link after a close (csatOnClose, §7.18): an automatic
    // message that may or may not be there yet, left out of these checks.
    const own = <M extends { sender: string }>(messages: readonly M[]) => messages.filter((m) => m.sender !== "auto");
    const h = await v.history({ limit: 3 });
    expect(
      h.ok &&
        own(h.messages)
          .map((x) => x.text)
          .slice(-2),
    ).toEqual(["b", "c"]);
    const l = await v.log();
    expect(l.ok && l.events.map((x) => x.kind)).toEqual(["closed"]);
    const cu = await v.catchUp(0);
    expect(cu.ok && [own(cu.messages).length, cu.events.length, cu.more]).toEqual([3, 1, false]);
    expect(cu.ok && cu.throughSeq).toBeGreaterThanOrEqual(4);
    await v.disconnect();
    await expect(v.reply("late")).rejects.toThrow(/closed/);
  });
});

describe("edges", () => {
  it("any text (NUL, lone surrogates, 4-byte characters, over the limit) gets exactly one typed answer: ok, or a refusal with a stable code", async () => {
    const c = await createConversation(app, { follower: ID.agent });
    const v = tracked(await (await signedIn(app, "agent")).openConversation(c.id));
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom("\u0000", "a\u0000b", "\ud800", "😀".repeat(4000), "😀".repeat(4001), "   ", ""),
    );
    await fc.assert(
      fc.asyncProperty(text, async (t) => {
        const a = await v.reply(t);
        if (a.ok) expect(a.seq).toBeTypeOf("number");
        else expect(ERROR_CODES).toContain(a.code);
      }),
      { numRuns: 40 },
    );
    // A request id the server refuses is still matched to its answer.
    expect(await v.reply("hi", "x".repeat(101))).toMatchObject({ ok: false, code: ErrorCode.INVALID_PAYLOAD });
    expect(v.pendingRequestIds()).toEqual([]);
  });
});

describe("inbox: notices and list deltas (docs/protocol.md §3, §8)", () => {
  it("[R2.7] [R10.1] a notice arrives once, and the deltas applied to a loaded page equal a fresh read", async () => {
    const agent = await signedIn(app, "agent2");
    const inbox = tracked(await agent.openInbox());
    expect(inbox.state.memberId).toBe(ID.agent2);
    expect(inbox.counts()["mine.in_progress.regular"]).toBeTypeOf("number");
    const notices: Notice[] = [];
    const deltas: ListDelta[] = [];
    inbox.on("notice", (n) => notices.push(n));
    inbox.on("list", (d) => deltas.push(d));
    let page: LoadedPage = await agent.loadPage({ view: "mine", status: "in_progress" }, 3);
    // The same room joined with the raw SDK and only a `notice` handler: the SDK warns on `list`.
    const raw = await agent.sdk.joinOrCreate("inbox", { memberId: ID.agent2 });
    raw.onMessage("notice", () => {});

    const manager = await signedIn(app, "manager");
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await createConversation(app, { follower: ID.manager, customerName: `客人 ${i}` });
      made.push(c.id);
      const v = tracked(await manager.openConversation(c.id));
      accepted(await v.addCollaborators([ID.agent2]));
      if (i === 1) accepted(await v.reply("hello"));
      if (i === 2) accepted(await v.close());
    }
    // One notice each: added to the three, and the third closed by its follower (R8.2); none twice.
    const ours = () =>
      notices.filter((n) => made.includes(n.conversationId ?? "")).map((n) => `${made.indexOf(n.conversationId ?? "")}:${n.kind}`);
    await waitFor(() => ours().length >= 4);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would come within this
    expect(ours().sort()).toEqual(["0:added_you", "1:added_you", "2:added_you", "2:closed_by"]);
    // Every change reached the inbox (add ×3, reply, close), then the page equals a fresh read.
    await waitFor(() => made.every((id) => deltas.some((d) => d.conversationId === id)) && deltas.some((d) => d.op === "moved"));
    const fresh = await agent.loadPage({ view: "mine", status: "in_progress" }, 100);
    await waitFor(() => {
      page = deltas.splice(0).reduce(applyListDelta, page);
      return JSON.stringify(page.items) === JSON.stringify(fresh.items.slice(0, page.items.length));
    });
    expect(page.items.map((i) => i.id)).toEqual(expect.arrayContaining([made[0], made[1]]));
    expect(page.items.map((i) => i.id)).not.toContain(made[2]);
    const notRegistered = warnings.filter((w) => w.includes("not registered"));
    expect(notRegistered.length).toBeGreaterThan(0);
    expect(notRegistered.every((w) => w.includes("'list'"))).toBe(true);
    // Those came from the raw room: the client's room got the same messages and said nothing.
    await raw.leave();
    const before = warnings.length;
    const c = await createConversation(app, { follower: ID.manager });
    const v = tracked(await manager.openConversation(c.id));
    accepted(await v.addCollaborators([ID.agent2]));
    await waitFor(() => deltas.some((d) => d.conversationId === c.id));
    expect(warnings.slice(before).filter((w) => w.includes("not registered"))).toEqual([]);
  });
});

describe("team room (docs/protocol.md §9)", () => {
  it("[R10.1] opens with the workspace's counts and member loads, and follows a change", async () => {
    const admin = await signedIn(app, "admin");
    const team = tracked(await admin.openTeam());
    expect(team.state.workspaceId).toBe("demo");
    expect([...team.state.counts.keys()].sort()).toEqual([
      "closed.collaborative",
      "closed.regular",
      "in_progress.collaborative",
      "in_progress.regular",
      "pending.collaborative",
      "pending.regular",
    ]);
    expect(team.state.members.get(ID.agent)?.name).toBe(NAME.agent);
    const closedBefore = team.state.counts.get("closed.regular") ?? 0;
    const c = await createConversation(app, { follower: ID.admin });
    const v = tracked(await admin.openConversation(c.id));
    accepted(await v.close());
    await waitFor(() => (team.state.counts.get("closed.regular") ?? 0) === closedBefore + 1);
    const agent = await signedIn(app, "agent");
    await expect(agent.openTeam()).rejects.toMatchObject({ code: ErrorCode.VIEW_NOT_ALLOWED });
  });
});

describe("typed HTTP (openapi-fetch over docs/openapi.json)", () => {
  it("calls routes with typed parameters and answers; an error has its status and code", async () => {
    const agent = await signedIn(app, "agent");
    const c = await createConversation(app, { follower: ID.agent });
    const r = await agent.http.GET("/api/v2/conversations/{id}/candidates", { params: { path: { id: c.id }, query: { q: "Eve" } } });
    expect(r.data?.items.map((i) => i.id)).toEqual([ID.agent2]);
    const counts = await agent.getConversationCounts();
    expect(counts.team).toBeNull();
    expect(counts.mine.in_progress.regular).toBeGreaterThan(0);
    const denied = await agent.http.GET("/api/v2/members");
    expect(denied.response.status).toBe(403);
    expect(denied.error?.code).toBe(ErrorCode.ROLE_NOT_ALLOWED);
  });
});
