import { and, asc, eq, ilike, notInArray, or } from "drizzle-orm";
import type { CandidateCriteria } from "../domain/candidates.ts";
import type { Role } from "../domain/sets.ts";
import type { Db, Tx } from "./client.ts";
import * as s from "./schema.ts";
import { likeSubstring } from "./sql.ts";

export interface CandidateRow {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly phone: string | null;
  readonly role: Role;
}

/**
 * The members matching R2.3's criteria (`domain/candidates.ts` builds them; `isCandidate` is the
 * same rule as a predicate), by name then id, at most `limit`.
 */
export async function findCandidates(db: Db | Tx, criteria: CandidateCriteria, limit: number): Promise<CandidateRow[]> {
  const m = s.members;
  const pattern = criteria.search === null ? null : likeSubstring(criteria.search);
  return db
    .select({ id: m.id, name: m.name, email: m.email, phone: m.phone, role: m.role })
    .from(m)
    .where(
      and(
        eq(m.workspaceId, criteria.workspaceId),
        eq(m.status, criteria.status),
        criteria.excludeIds.length ? notInArray(m.id, [...criteria.excludeIds]) : undefined,
        criteria.role === null ? undefined : eq(m.role, criteria.role),
        pattern === null ? undefined : or(ilike(m.name, pattern), ilike(m.email, pattern), ilike(m.phone, pattern)),
      ),
    )
    .orderBy(asc(m.name), asc(m.id))
    .limit(limit);
}
