/** The demo workspace (server/seed.ts): its id, members, their display names, its Webchat channel. */
export const WORKSPACE = "demo";

export const EMAIL = {
  admin: "admin@demo.test",
  supervisor: "supervisor@demo.test",
  manager: "manager@demo.test",
  marketing: "marketing@demo.test",
  agent: "agent@demo.test",
  agent2: "agent2@demo.test",
  agent3: "agent3@demo.test",
} as const;

export const ID = {
  admin: "demo-admin",
  supervisor: "demo-supervisor",
  manager: "demo-cs-manager",
  marketing: "demo-marketing",
  agent: "demo-agent",
  agent2: "demo-agent-2",
  agent3: "demo-agent-3",
} as const;

export const NAME = {
  admin: "Jess",
  supervisor: "Amy",
  manager: "Ben",
  marketing: "Cathy",
  agent: "Dan",
  agent2: "Eve",
  agent3: "Finn",
} as const;
export type DemoKey = keyof typeof ID;

export const WEBCHAT = { channelId: "demo-webchat", secret: "demo-webchat-secret" } as const;
