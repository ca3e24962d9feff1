import type { Db } from "../db/client.ts";
import { type DemoConversation, insertDemoWorkspace, isEmpty } from "../db/demo.ts";
import { DEFAULT_SETTINGS } from "../domain/model.ts";
import type { Channel, Locale, Role } from "../domain/sets.ts";
import { Auth } from "./auth.ts";
import { hashSecret } from "./http/webchat.ts";

/** The demo workspace's logins, printed at start and listed in the README. */
export const DEMO_PASSWORD = "demo-password";
export const DEMO_WEBCHAT = { channelId: "demo-webchat", secret: "demo-webchat-secret" } as const;

export const DEMO_MEMBERS: readonly { id: string; name: string; email: string; role: Role; locale: Locale; phone: string }[] = [
  { id: "demo-admin", name: "Jess", email: "admin@demo.test", role: "admin", locale: "zh-TW", phone: "+886900000001" },
  { id: "demo-supervisor", name: "Amy", email: "supervisor@demo.test", role: "supervisor", locale: "zh-TW", phone: "+886900000002" },
  { id: "demo-cs-manager", name: "Ben", email: "manager@demo.test", role: "cs_manager", locale: "zh-TW", phone: "+886900000003" },
  { id: "demo-marketing", name: "Cathy", email: "marketing@demo.test", role: "marketing_cs", locale: "zh-TW", phone: "+886900000004" },
  { id: "demo-agent", name: "Dan", email: "agent@demo.test", role: "agent", locale: "zh-TW", phone: "+886900000005" },
  { id: "demo-agent-2", name: "Eve", email: "agent2@demo.test", role: "agent", locale: "en", phone: "+886900000006" },
  { id: "demo-agent-3", name: "Finn", email: "agent3@demo.test", role: "agent", locale: "en", phone: "+886900000007" },
];

const CUSTOMERS: readonly { id: string; name: string; channel: Channel }[] = [
  { id: "demo-cust-webchat", name: "Visitor 42", channel: "webchat" },
  { id: "demo-cust-line", name: "王小明", channel: "line" },
  { id: "demo-cust-whatsapp", name: "Maria", channel: "whatsapp" },
  { id: "demo-cust-facebook", name: "陳美玲", channel: "facebook" },
  { id: "demo-cust-instagram", name: "Lily", channel: "instagram" },
  { id: "demo-cust-wechat", name: "李雷", channel: "wechat" },
  { id: "demo-cust-wa-group", name: "VIP 群組", channel: "whatsapp" },
  { id: "demo-cust-line-2", name: "林小姐", channel: "line" },
];

const CONVERSATIONS: readonly DemoConversation[] = [
  { id: "demo-pending", customer: "demo-cust-webchat", status: "pending", follower: null, collaborators: [], texts: ["Hi, is anyone there?"] },
  { id: "demo-pending-line", customer: "demo-cust-line-2", status: "pending", follower: null, collaborators: [], texts: ["請問營業時間？"] },
  {
    id: "demo-direct",
    customer: "demo-cust-line",
    status: "in_progress",
    follower: "demo-agent",
    collaborators: [],
    texts: ["我的訂單還沒到", "訂單編號 A1234"],
    pinned: true,
  },
  {
    id: "demo-collab-full",
    customer: "demo-cust-whatsapp",
    status: "in_progress",
    follower: "demo-admin",
    collaborators: ["demo-supervisor", "demo-cs-manager", "demo-marketing", "demo-agent", "demo-agent-2"],
    texts: ["I need help with a refund", "It has been two weeks"],
  },
  {
    id: "demo-collab",
    customer: "demo-cust-facebook",
    status: "in_progress",
    follower: "demo-agent",
    collaborators: ["demo-cs-manager"],
    texts: ["商品有瑕疵，可以換貨嗎？"],
  },
  { id: "demo-closed-collab", customer: "demo-cust-instagram", status: "closed", follower: "demo-cs-manager", collaborators: ["demo-agent"], texts: ["Thanks!"] },
  { id: "demo-closed", customer: "demo-cust-wechat", status: "closed", follower: "demo-agent-2", collaborators: [], texts: ["好的，謝謝"] },
  {
    id: "demo-group",
    customer: "demo-cust-wa-group",
    status: "in_progress",
    follower: "demo-supervisor",
    collaborators: ["demo-agent"],
    kind: "group",
    texts: ["Group order for 20 people?"],
  },
];

/** Seeds the demo workspace when the database holds none. Returns true when it seeded. */
export async function seedDemo(db: Db): Promise<boolean> {
  if (!(await isEmpty(db))) return false;
  const passwordHash = await Auth.hashPassword(DEMO_PASSWORD);
  // Checks again under a lock: another process may have seeded since `isEmpty`.
  return insertDemoWorkspace(
    db,
    {
      id: "demo",
      name: "Demo 團隊",
      settings: { ...DEFAULT_SETTINGS, csatOnClose: true },
      members: DEMO_MEMBERS.map((m) => ({ ...m, passwordHash })),
      channel: { id: DEMO_WEBCHAT.channelId, type: "webchat", name: "Website", secretHash: hashSecret(DEMO_WEBCHAT.secret) },
      customers: CUSTOMERS,
      conversations: CONVERSATIONS,
    },
    Date.now(),
  );
}
