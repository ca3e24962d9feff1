import { PGlite } from "@electric-sql/pglite";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { StorageTimeout, isStorageUnavailable } from "../../db/errors.ts";

/**
 * Which failures are "storage unavailable" (answer STORAGE_UNAVAILABLE, retry later) and which are
 * not (answer INTERNAL and log: retrying would fail the same way).
 */
const coded = (code: string) => Object.assign(new Error(code), { code });

describe("isStorageUnavailable", () => {
  it("true for a lost, refused or timed-out connection and for our own deadline", () => {
    for (const code of ["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT", "ECONNREFUSED", "ECONNRESET"]) {
      expect([code, isStorageUnavailable(coded(code))]).toEqual([code, true]);
    }
    expect(isStorageUnavailable(new StorageTimeout(1000))).toBe(true);
  });

  it("true for SQLSTATE classes 08, 53 and 57 (statement timeout, shutdown, too many connections)", () => {
    for (const code of ["08006", "08001", "53300", "57014", "57P01", "57P03"]) {
      expect([code, isStorageUnavailable(coded(code))]).toEqual([code, true]);
    }
  });

  it("looks through Drizzle's wrapper (the driver's error is its cause)", () => {
    expect(isStorageUnavailable(new DrizzleQueryError("select 1", [], coded("57014") as Error))).toBe(true);
    expect(isStorageUnavailable(new DrizzleQueryError("insert", [], coded("23505") as Error))).toBe(false);
  });

  it("false for bugs and refusals: constraint violations, syntax errors, bad input, plain errors, non-errors", () => {
    for (const code of ["23505", "23503", "42601", "42P01", "22021", "22003", "40001", "UNDEFINED_VALUE"]) {
      expect([code, isStorageUnavailable(coded(code))]).toEqual([code, false]);
    }
    expect(isStorageUnavailable(new Error("boom"))).toBe(false);
    expect(isStorageUnavailable(new TypeError("x is undefined"))).toBe(false);
    for (const v of [null, undefined, "CONNECTION_CLOSED", 57014, {}]) expect(isStorageUnavailable(v)).toBe(false);
  });

  it("true for a closed PGlite, false for PGlite's own refusal of a NUL (bad input, not an outage)", async () => {
    const pg = new PGlite();
    await pg.waitReady;
    const nul = await pg.query("select $1::text", ["a\u0000b"]).catch((e: unknown) => e);
    expect(isStorageUnavailable(nul)).toBe(false);
    await pg.close();
    const closed = await pg.query("select 1").catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(Error);
    expect(isStorageUnavailable(closed)).toBe(true);
  });
});
