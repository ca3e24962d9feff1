/**
 * The closed sets of the domain. Each is an `as const` object with a derived union type;
 * every switch over one ends in `assertNever`.
 */

export const Role = {
  admin: "admin",
  supervisor: "supervisor",
  cs_manager: "cs_manager",
  marketing_cs: "marketing_cs",
  agent: "agent",
} as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLES = Object.values(Role) as readonly Role[];

/** Roles that may add / remove collaborators and take over as a collaborator (SPEC §0). */
export const MANAGERS: ReadonlySet<Role> = new Set([Role.admin, Role.supervisor, Role.cs_manager, Role.marketing_cs]);
/** Roles that see the team view (SPEC §0). */
export const TEAM_VIEWERS: ReadonlySet<Role> = new Set([Role.admin, Role.supervisor, Role.cs_manager]);

export const MemberStatus = { active: "active", deactivated: "deactivated", deleted: "deleted" } as const;
export type MemberStatus = (typeof MemberStatus)[keyof typeof MemberStatus];

export const Locale = { zhTW: "zh-TW", en: "en" } as const;
export type Locale = (typeof Locale)[keyof typeof Locale];
export const LOCALES = Object.values(Locale) as readonly Locale[];

export const Channel = {
  whatsapp: "whatsapp",
  line: "line",
  facebook: "facebook",
  instagram: "instagram",
  wechat: "wechat",
  webchat: "webchat",
} as const;
export type Channel = (typeof Channel)[keyof typeof Channel];
export const CHANNELS = Object.values(Channel) as readonly Channel[];

export const ConversationKind = { direct: "direct", group: "group" } as const;
export type ConversationKind = (typeof ConversationKind)[keyof typeof ConversationKind];

export const Status = { pending: "pending", in_progress: "in_progress", closed: "closed" } as const;
export type Status = (typeof Status)[keyof typeof Status];
export const STATUSES = Object.values(Status) as readonly Status[];

export const View = { mine: "mine", team: "team" } as const;
export type View = (typeof View)[keyof typeof View];

/** The most collaborators a conversation may have; the follower is not counted (R1.1). */
export const MAX_COLLABORATORS = 5;
/** The longest reply or customer message body accepted, in characters (documented in docs/protocol.md). */
export const MAX_TEXT_LENGTH = 4000;

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
