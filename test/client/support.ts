import { InboxClient } from "../../client/index.ts";
import { type DemoKey, EMAIL } from "../support/demo.ts";
import { type App, track } from "../support/server.ts";

/** A typed client signed in as a demo member, its rooms left after each test (`closeAll`). */
export async function signedIn(
  app: App,
  who: DemoKey,
  url: string = app.url,
  options: { refreshBeforeMs?: number } = {},
): Promise<InboxClient> {
  const client = new InboxClient({ url, ...options });
  await client.login(EMAIL[who], "demo-password");
  return client;
}

/** Leaves the view after the test (useTestServer's `closeAll`). */
export function tracked<T extends { leave(): Promise<unknown> }>(view: T): T {
  return track(view);
}
