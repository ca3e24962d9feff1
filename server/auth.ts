import { createHash, randomBytes, randomUUID } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";
import { consumeRefreshToken, findMemberByEmail, insertRefreshToken } from "../db/auth.ts";
import type { Db } from "../db/client.ts";
import { type MemberRow, loadMember } from "../db/repository.ts";
import { DomainError, ErrorCode } from "../domain/errors.ts";
import type { AuthPort } from "../rooms/ports.ts";

/**
 * Login, token refresh and token verification. Access tokens are short-lived JWTs (HS256, jose)
 * carrying the member's token version: bumping it (deactivation) revokes them all at once. A token
 * is accepted only with all three of its claims: `sub` (the member), `exp` (a token that never
 * expires would outlive every revocation but the version's) and `tv` (the version).
 * Refresh tokens are random, stored hashed, and rotated on use.
 */
export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresIn: number;
  readonly member: { id: string; name: string; role: string; locale: string; workspaceId: string };
}

const sha256 = (v: string) => createHash("sha256").update(v).digest("hex");

export class Auth implements AuthPort {
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
    const m = await findMemberByEmail(this.db, email.trim().toLowerCase());
    // Verify even when unknown so timing does not tell which emails exist.
    const ok = await verify(m?.passwordHash ?? DUMMY_HASH, password).catch(() => false);
    if (!m || !ok) throw new DomainError(ErrorCode.INVALID_CREDENTIALS);
    if (m.status !== "active") throw new DomainError(ErrorCode.MEMBER_INACTIVE);
    return this.issue(m);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const memberId = await consumeRefreshToken(this.db, sha256(refreshToken), new Date());
    if (!memberId) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const m = await loadMember(this.db, memberId);
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

  private async issue(m: MemberRow): Promise<TokenPair> {
    const refreshToken = randomBytes(32).toString("base64url");
    await insertRefreshToken(this.db, {
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

  /**
   * The member a token speaks for, or a `DomainError`: UNAUTHENTICATED (missing, forged, without
   * `exp`, `sub` or `tv`, or of an old token version), TOKEN_EXPIRED, MEMBER_INACTIVE.
   */
  async verifyAccess(token: string | undefined | null): Promise<MemberRow> {
    if (!token) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    let sub: string | undefined;
    let tv: unknown;
    try {
      // jose checks `exp` only when present: require it (and `sub`), or a token without one never expires.
      const { payload } = await jwtVerify(token, this.key, { algorithms: ["HS256"], requiredClaims: ["exp", "sub"] });
      sub = payload.sub;
      tv = payload.tv;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new DomainError(ErrorCode.TOKEN_EXPIRED);
      throw new DomainError(ErrorCode.UNAUTHENTICATED);
    }
    if (!sub || !Number.isInteger(tv)) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    const m = await loadMember(this.db, sub);
    if (!m) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    if (m.status !== "active") throw new DomainError(ErrorCode.MEMBER_INACTIVE);
    if (tv !== m.tokenVersion) throw new DomainError(ErrorCode.UNAUTHENTICATED);
    return m;
  }
}

// A valid argon2id hash of a random string, used to keep login timing flat for unknown emails.
const DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Vf7Ww2QXBqPqCmI4Pfy6Mz1nYd1eYzsiVZ5VbQ8mYo";
