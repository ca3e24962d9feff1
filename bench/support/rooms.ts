import { Client, type Room } from "@colyseus/sdk";

/** A conversation room joined with the Colyseus SDK, for sending staff replies and reading their answers. */

export interface ActionResult {
  readonly requestId: string | null;
  readonly ok: boolean;
  readonly code?: string;
  readonly seq?: number;
}

export class ReplyRoom {
  private readonly waiters = new Map<string, (r: ActionResult) => void>();

  private constructor(
    readonly conversationId: string,
    readonly room: Room,
  ) {
    room.onMessage("result", (r: ActionResult) => {
      if (!r.requestId) return;
      this.waiters.get(r.requestId)?.(r);
      this.waiters.delete(r.requestId);
    });
  }

  /** Joins `conversationId` in the team view (an admin may reply to any open regular conversation there, R11.5). */
  static async open(client: Client, conversationId: string): Promise<ReplyRoom> {
    const room = await client.joinOrCreate("conversation", { conversationId, view: "team" });
    return new ReplyRoom(conversationId, room);
  }

  /** Sends a reply and resolves with the room's answer (committed, or refused with a code). */
  reply(requestId: string, text: string): Promise<ActionResult> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer to reply ${requestId} in ${this.conversationId}`)), 30_000);
      this.waiters.set(requestId, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.room.send("reply", { requestId, text });
    });
  }

  async leave(): Promise<void> {
    await this.room.leave().catch(() => {});
  }
}

/** An SDK client of the server at `httpUrl` signed in as `email` (demo password). */
export async function signedInClient(
  httpUrl: string,
  email: string,
  password = "demo-password",
): Promise<{ client: Client; token: string }> {
  const login = () =>
    fetch(`${httpUrl}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
  let res = await login();
  // A server just started on a busy machine may answer 503 for a moment: a few more tries.
  for (let i = 0; i < 5 && res.status === 503; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await login();
  }
  if (!res.ok) throw new Error(`login ${email}: ${res.status} ${await res.text()}`);
  const { accessToken } = (await res.json()) as { accessToken: string };
  const client = new Client(httpUrl.replace(/^http/, "ws"));
  client.auth.token = accessToken;
  return { client, token: accessToken };
}
