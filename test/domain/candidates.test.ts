import { describe, expect, it } from "vitest";
import { type CandidateFields, CandidateRole, candidateCriteria, isCandidate } from "../../domain/candidates.ts";
import { MemberStatus, Role } from "../../domain/sets.ts";
import { collaborative, conversation } from "./fixtures.ts";

/** R2.3's candidate rule as a pure function: the criteria a request turns into, and the rule as a predicate. */

const WS = "ws-1";
function member(id: string, over: Partial<CandidateFields> = {}): CandidateFields {
  return {
    id,
    workspaceId: WS,
    status: MemberStatus.active,
    role: Role.agent,
    name: `Name ${id}`,
    email: `${id}@x.test`,
    phone: null,
    ...over,
  };
}
const all = (c = collaborative(["c1", "c2"]), q?: string) => candidateCriteria(WS, c, { role: CandidateRole.all, q });

describe("R2.3 candidates", () => {
  it("[R2.3] an active member of the workspace who is not a participant is a candidate", () => {
    expect(isCandidate(member("n1"), all())).toBe(true);
  });

  it("[R2.3] participants are not: neither the follower nor a collaborator", () => {
    const criteria = all();
    expect(criteria.excludeIds).toEqual(["fol", "c1", "c2"]);
    for (const id of ["fol", "c1", "c2"]) expect(isCandidate(member(id), criteria)).toBe(false);
    // With no follower (pending), nobody is excluded.
    expect(candidateCriteria(WS, conversation({ followerId: null }), { role: CandidateRole.all }).excludeIds).toEqual([]);
  });

  it("[R2.3] deactivated and deleted members are not, nor members of another workspace", () => {
    const criteria = all();
    expect(criteria.status).toBe(MemberStatus.active);
    expect(isCandidate(member("n1", { status: MemberStatus.deactivated }), criteria)).toBe(false);
    expect(isCandidate(member("n1", { status: MemberStatus.deleted }), criteria)).toBe(false);
    expect(isCandidate(member("n1", { workspaceId: "ws-2" }), criteria)).toBe(false);
  });

  it("[R2.3] the role filter: all, admin, supervisor, cs_manager", () => {
    const roles = Object.values(Role);
    const people = roles.map((role) => member(`m-${role}`, { role }));
    const pick = (role: CandidateRole) =>
      people.filter((m) => isCandidate(m, candidateCriteria(WS, conversation(), { role }))).map((m) => m.role);
    expect(Object.values(CandidateRole)).toEqual(["all", "admin", "supervisor", "cs_manager"]);
    expect(pick(CandidateRole.all)).toEqual(roles);
    expect(pick(CandidateRole.admin)).toEqual([Role.admin]);
    expect(pick(CandidateRole.supervisor)).toEqual([Role.supervisor]);
    expect(pick(CandidateRole.cs_manager)).toEqual([Role.cs_manager]);
    expect(candidateCriteria(WS, conversation(), { role: CandidateRole.all }).role).toBeNull();
  });

  it("[R2.3] search matches the name, the email or the phone as a case-insensitive substring", () => {
    const m = member("n1", { name: "Nina Wang", email: "nina.w@shop.test", phone: "+886912345678" });
    for (const q of ["nina", "NINA", "a wa", "w@SHOP", "912345", "+886"]) expect(isCandidate(m, all(conversation(), q))).toBe(true);
    for (const q of ["ninaw", "bob", "0000"]) expect(isCandidate(m, all(conversation(), q))).toBe(false);
    expect(isCandidate(member("n2", { phone: null }), all(conversation(), "+886"))).toBe(false);
  });

  it("[R2.3] search characters are taken literally: % and _ match themselves only", () => {
    expect(isCandidate(member("n1", { name: "100% Nina" }), all(conversation(), "0% n"))).toBe(true);
    expect(isCandidate(member("n1", { name: "Nina" }), all(conversation(), "%"))).toBe(false);
    expect(isCandidate(member("n1", { email: "a_b@x.test" }), all(conversation(), "a_b"))).toBe(true);
    expect(isCandidate(member("n1", { email: "axb@x.test" }), all(conversation(), "a_b"))).toBe(false);
  });

  it("[R2.3] no search (or an empty one) matches everyone the other criteria admit", () => {
    expect(all(conversation()).search).toBeNull();
    expect(all(conversation(), "").search).toBeNull();
  });
});
