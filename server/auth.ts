import { createHash, randomBytes, randomUUID } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { and, eq, gt, isNull } from "drizzle-orm";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import type { Db } from "../db/client.ts";
import { type MemberRow, loadMember } from "../db/repository.ts";
import * as s from "../db/schema.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";

/**
 * Login, token refresh and token verification. Access tokens are short-lived JWTs (HS256, jose)
 * carrying the member's token version: bumping it (deactivation) revokes them all at once.
 * Refresh tokens are random, stored hashed, and rotated on use.
 */
export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
  readonly member: { id: string; name: string; role: string; locale: string; workspaceId: string };
}

const sha256 = (v: string) => createHash("sha256").update(v).digest("hex");

export class Auth {
  private readonly key: Uint8Array;

  constructor(
    private readonly db: Db,
    secret: string,
    private readonly accessTtlSeconds: number,
    private readonly refreshTtlDays: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  static hashPassword(password: string): Promise<string> {
    return hash(password);
  }

  async login(email: string, password: string): Promise<TokenPair> {
    const rows = await this.db.select().from(s.members).where(eq(s.members.email, email.trim().toLowerCase()));
    const m = rows[0];
    // Verify even when unknown so timing does not tell which emails exist.
    const ok = await verify(m?.passwordHash ?? DUMMY_HASH, password).catch(() => false);
    if (!m || !ok) throw new DomainError(ErrorCode.INVALID_CREDENTIALS);
    if (m.status !== "active") throw new DomainError(ErrorCode.MEMBER_INACTIVE);
    return this.issue(m);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = new Date();
    const rows = await this.db
      .update(s.refreshTokens)
      .set({ revokedAt: now })
      .where(and(eq(s.refreshTokens.tokenHash, sha256(refreshToken)), isNull(s.refreshTokens.revokedAt), gt(s.refreshTokens.expiresAt, now)))
      .returning({ memberId: s.refreshTokens.memberId });
    const row = rows[0];
    if (!row) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const m = (await this.db.select().from(s.members).where(eq(s.members.id, row.memberId)))[0];
    if (m?.status !== "active") throw new DomainError(ErrorCode.MEMBER_INACTIVE);
    return this.issue(m);
  }

  async signAccess(m: { id: string; workspaceId: string; role: string; tokenVersion: number }): Promise<string> {
    return new SignJWT({ ws: m.workspaceId, role: m.role, tv: m.tokenVersion })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(m.id)
      .setIssuedAt()
      .setExpirationTime(`${this.accessTtlSeconds}s`)
      .sign(this.key);
  }

  private async issue(m: typeof s.members.$inferSelect): Promise<TokenPair> {
    const refreshToken = randomBytes(32).toString("base64url");
    await this.db.insert(s.refreshTokens).values({
      id: randomUUID(),
      memberId: m.id,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + this.refreshTtlDays * 86_400_000),
    });
    return {
      accessToken: await this.signAccess(m),
      refreshToken,
      expiresIn: this.accessTtlSeconds,
      member: { id: m.id, name: m.name, role: m.role, locale: m.locale, workspaceId: m.workspaceId },
    };
  }

  /** The member a token speaks for, or a `DomainError` (UNAUTHENTICATED, TOKEN_EXPIRED, MEMBER_INACTIVE). */
  async verifyAccess(token: string | undefined | null): Promise<MemberRow> {
    if (!token) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    let sub: string | undefined;
    let tv: unknown;
    try {
      const { payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"] });
      sub = payload.sub;
      tv = payload.tv;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new DomainError(ErrorCode.TOKEN_EXPIRED);
      throw new DomainError(ErrorCode.UNAUTHENTICATED);
    }
    if (!sub) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const m = await loadMember(this.db, sub);
    if (!m) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    if (m.status !== "active") throw new DomainError(ErrorCode.MEMBER_INACTIVE);
    if (tv !== m.tokenVersion) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    return m;
  }
}

// A valid argon2id hash of a random string, used to keep login timing flat for unknown emails.
const DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Vf7Ww2QXBqPqCmI4Pfy6Mz1nYd1eYzsiVZ5VbQ8mYo";
