import { expect } from "vitest";
import type { Action } from "../../domain/actions.ts";
import { type Decision, decide } from "../../domain/decide.ts";
import { DomainError, type ErrorCode } from "../../domain/errors.ts";
import {
  type Actor,
  type Conversation,
  type DecideContext,
  DEFAULT_SETTINGS,
  type MemberInfo,
  type WorkspaceSettings,
} from "../../domain/model.ts";
import { Channel, ConversationKind, MemberStatus, Role, Status, View } from "../../domain/sets.ts";
import type { NameOf } from "../../domain/texts.ts";

/**
 * Builders for the pure domain tests. Every conversation is deep-frozen, so a `decide()` that
 * mutated its input would throw (ESM runs in strict mode) instead of passing silently.
 */

interface Person {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly status: MemberStatus;
}

function person(id: string, name: string, role: Role, status: MemberStatus = MemberStatus.active): Person {
  return { id, name, role, status };
}

/** The workspace's members. The follower `fol` is a plain agent: its rights come from following, not from its role. */
export const PEOPLE = {
  fol: person("fol", "Jess", Role.agent),
  c1: person("c1", "Jess A", Role.agent),
  c2: person("c2", "Jess B", Role.agent),
  c3: person("c3", "Jess C", Role.agent),
  c4: person("c4", "Jess D", Role.agent),
  c5: person("c5", "Jess E", Role.agent),
  n1: person("n1", "Nina", Role.agent),
  n2: person("n2", "Noah", Role.agent),
  n3: person("n3", "Nora", Role.agent),
  n4: person("n4", "Ned", Role.agent),
  n5: person("n5", "Nell", Role.agent),
  n6: person("n6", "Nick", Role.agent),
  adm: person("adm", "Ann", Role.admin),
  sup: person("sup", "Sam", Role.supervisor),
  csm: person("csm", "Cara", Role.cs_manager),
  mkt: person("mkt", "Mia", Role.marketing_cs),
  agt: person("agt", "Ada", Role.agent),
  amy: person("amy", "Amy", Role.agent),
  gone: person("gone", "Gus", Role.agent, MemberStatus.deactivated),
  deleted: person("deleted", "Dee", Role.admin, MemberStatus.deleted),
} as const satisfies Record<string, Person>;
export type PersonId = keyof typeof PEOPLE;

/** Roles in MANAGERS and the others (SPEC §0). */
export const MANAGER_IDS = ["adm", "sup", "csm", "mkt"] as const satisfies readonly PersonId[];
/** Roles in TEAM_VIEWERS (SPEC §0). */
export const TEAM_VIEWER_IDS = ["adm", "sup", "csm"] as const satisfies readonly PersonId[];

export const CUSTOMER_ID = "cust";

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A 1-on-1 conversation in progress, followed by `fol`, unless overridden. */
export function conversation(over: Partial<Conversation> = {}): Conversation {
  return deepFreeze({
    id: "conv-1",
    workspaceId: "ws-1",
    customerId: CUSTOMER_ID,
    channel: Channel.line,
    kind: ConversationKind.direct,
    status: Status.in_progress,
    followerId: "fol",
    collaboratorIds: [] as string[],
    version: 7,
    ...over,
    ...(over.collaboratorIds ? { collaboratorIds: [...over.collaboratorIds] } : {}),
  });
}

/** A collaborative conversation followed by `fol` with the given collaborators (in order). */
export function collaborative(collaboratorIds: readonly string[] = ["c1", "c2"], over: Partial<Conversation> = {}): Conversation {
  return conversation({ ...over, collaboratorIds });
}

/** A member acting from a view; the role is the member's own unless given. */
export function asMember(id: PersonId, view: View = View.mine, role?: Role): Actor {
  return { type: "member", id, role: role ?? PEOPLE[id].role, view };
}

export function asCustomer(): Actor {
  return { type: "customer", id: CUSTOMER_ID };
}

export function asSystem(): Actor {
  return { type: "system", id: null };
}

export interface CtxOptions {
  readonly settings?: Partial<WorkspaceSettings>;
  /** Members known to the context; all of PEOPLE unless given. */
  readonly members?: readonly MemberInfo[];
}

export function context(actor: Actor, opts: CtxOptions = {}): DecideContext {
  const members = opts.members ?? Object.values(PEOPLE).map(({ id, role, status }) => ({ id, role, status }));
  return {
    actor,
    now: new Date("2025-01-03T03:04:05Z"),
    members: new Map(members.map((m) => [m.id, m])),
    settings: { ...DEFAULT_SETTINGS, ...opts.settings },
  };
}

let seq = 0;
const rid = () => `req-${++seq}`;

/** Actions, with fresh request ids. */
export const act = {
  reply: (text = "hello"): Action => ({ type: "reply", requestId: rid(), text }),
  add: (...memberIds: string[]): Action => ({ type: "add_collaborators", requestId: rid(), memberIds }),
  remove: (...memberIds: string[]): Action => ({ type: "remove_collaborators", requestId: rid(), memberIds }),
  join: (): Action => ({ type: "join", requestId: rid() }),
  leave: (): Action => ({ type: "leave", requestId: rid() }),
  takeOver: (): Action => ({ type: "take_over", requestId: rid() }),
  transfer: (memberId: string): Action => ({ type: "transfer", requestId: rid(), memberId }),
  close: (): Action => ({ type: "close", requestId: rid() }),
  reopen: (): Action => ({ type: "reopen", requestId: rid() }),
  pin: (): Action => ({ type: "pin", requestId: rid() }),
  unpin: (): Action => ({ type: "unpin", requestId: rid() }),
  markRead: (): Action => ({ type: "mark_read", requestId: rid() }),
  customerMessage: (text = "hi"): Action => ({ type: "customer_message", requestId: rid(), text }),
  memberDeparted: (memberId: string): Action => ({ type: "member_departed", requestId: rid(), memberId }),
};

/** `decide` with a context built for the actor. */
export function run(c: Conversation, action: Action, actor: Actor, opts?: CtxOptions): Decision {
  return decide(c, action, context(actor, opts));
}

/**
 * The code a refused action throws. Fails the test when the action returns a decision instead
 * (a refusal must throw, never come back as a result) or throws something that is not a DomainError.
 */
export function refusal(thunk: () => unknown): ErrorCode {
  let result: unknown;
  try {
    result = thunk();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).code;
  }
  throw new Error(`expected a refusal, but a decision came back: ${JSON.stringify(result)}`);
}

/** A name lookup over PEOPLE, with overrides; `null` (the system) is "System". */
export function names(overrides: Record<string, string> = {}): NameOf {
  return (id) => {
    if (id === null) return "System";
    const n = overrides[id] ?? (PEOPLE as Record<string, Person>)[id]?.name;
    if (n === undefined) throw new Error(`no name for ${id}`);
    return n;
  };
}
