import fc from "fast-check";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { executeRows } from "../../db/sql.ts";
import { ERROR_CODES, ErrorCode } from "../../domain/errors.ts";
import { type App, EMAIL, login, startTestServer } from "../support/server.ts";

/**
 * Property-based robustness over every operation of the served OpenAPI document: arbitrary
 * strings (NUL, lone surrogates, 4-byte characters, 100 KB), numbers (negative, huge, NaN, not
 * integers), wrong types and unknown fields, in the path, the query and the body, as an admin and
 * without a token. Every generated request is malformed by construction, so each must get exactly
 * one 4xx `{ code, message }` with a known code (never a 5xx, never STORAGE_UNAVAILABLE), the
 * database must not change, and the server must keep serving.
 *
 * Requests go through Hono's `app.request` on the same HTTP app the server runs (no sockets);
 * the server is real (database, rooms, presence) behind it.
 */
const server: App = await startTestServer();
afterAll(async () => {
  await server?.stop();
});
const http = server.http;
const adminToken = await login(server, EMAIL.admin);
const doc: any = await (await http.request("/openapi.json")).json();

type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  params: { name: string; in: string; required?: boolean; schema?: Schema }[];
  body: Schema | null;
}

/** Resolves `$ref`s to `#/components/schemas/...` (the document's only kind). */
function deref(s: Schema | undefined): Schema | undefined {
  if (!s) return s;
  if (typeof s.$ref === "string") return deref(doc.components.schemas[s.$ref.split("/").pop()!]);
  return s;
}

/** The object alternative of a union (or the schema itself). */
function main(schema: Schema | undefined): Schema {
  const s = deref(schema) ?? {};
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return main(alt.find((a: Schema) => deref(a)?.type !== "null") ?? alt[0]);
  return s;
}

const operations: Operation[] = [];
for (const [path, item] of Object.entries<any>(doc.paths)) {
  for (const method of ["get", "post", "put", "patch", "delete"]) {
    const op = item[method];
    if (!op) continue;
    operations.push({
      method: method.toUpperCase(),
      path,
      params: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => ({ ...p, schema: deref(p.schema) })),
      body: deref(op.requestBody?.content?.["application/json"]?.schema) ?? null,
    });
  }
}

// ---- values --------------------------------------------------------------------------------

/** 100 KB of 4-byte characters (U+20000). */
const HUGE = "\u{20000}".repeat(25_000);

/** A string PostgreSQL cannot store: a NUL or a lone surrogate somewhere in arbitrary text. */
const unstorable = (withSurrogates: boolean) =>
  fc
    .tuple(
      fc.string({ unit: "binary", maxLength: 12 }),
      withSurrogates ? fc.constantFrom("\u0000", "\uD800", "\uDFFF", "x\uDBFFy", "\uDC00\u0000") : fc.constant("\u0000"),
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.boolean(),
    )
    .map(([a, bad, b, huge]) => `${a}${bad}${b}${huge ? HUGE : ""}`);

/** A number (or a stand-in for one) that `s` declares wrong; null when `s` declares no bound at all. */
function badNumber(s: Schema, inUrl: boolean): fc.Arbitrary<unknown> {
  const options: fc.Arbitrary<unknown>[] = [fc.constant(inUrl ? "NaN" : "12"), fc.constant(inUrl ? "abc" : true)];
  if (!inUrl) options.push(fc.constant(null), fc.constant([1]));
  if (s.type === "integer") options.push(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).filter((n) => !Number.isInteger(n)));
  if (typeof s.minimum === "number") options.push(fc.double({ max: s.minimum, maxExcluded: true, noNaN: true, noDefaultInfinity: true, min: -1e300 }));
  if (typeof s.maximum === "number") options.push(fc.double({ min: s.maximum, minExcluded: true, noNaN: true, noDefaultInfinity: true, max: 1e300 }));
  // Unbounded either way would be a missing bound: these reach any declared range's outside.
  options.push(fc.constantFrom(1e300, -1e300, 2 ** 53));
  if (inUrl) options.push(fc.constantFrom("1e400", "-1e400", "Infinity", "9".repeat(40)));
  return fc.oneof(...options).map((v) => (inUrl ? String(v) : v));
}

/** A valid value of `schema`, as far as a schema can say (the base a fault is put into). */
function sample(schema: Schema | undefined): unknown {
  const s = main(schema);
  if ("const" in s) return s.const;
  if (s.enum) return s.enum[0];
  if ("default" in s) return s.default;
  const type = (Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type) ?? (s.properties ? "object" : "string");
  if (type === "string") return s.format === "email" ? "fuzz@example.test" : "x".repeat(Math.max(1, s.minLength ?? 1));
  if (type === "integer" || type === "number") return Math.max(s.minimum ?? 1, Math.min(1, s.maximum ?? 1));
  if (type === "boolean") return true;
  if (type === "array") return Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sample(s.items));
  if (type === "object") return Object.fromEntries((s.required ?? []).map((k: string) => [k, sample(s.properties?.[k])]));
  return "x";
}

/** A value `s` refuses for sure (in a JSON body). */
function wrongFor(schema: Schema | undefined): fc.Arbitrary<unknown> {
  const s = main(schema);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== "null") : s.type;
  const nullable = Array.isArray(s.type) && s.type.includes("null");
  const choices: fc.Arbitrary<unknown>[] = [unstorable(true)];
  if (s.enum || "const" in s) choices.push(fc.constant("__bogus__"));
  if (type === "integer" || type === "number") choices.push(badNumber(s, false));
  if (type === "string") {
    choices.push(fc.oneof(fc.integer(), fc.constant({ a: 1 }), fc.constant([])));
    if (typeof s.maxLength === "number") choices.push(fc.constant("y".repeat(s.maxLength + 1)));
  }
  if (type === "boolean") choices.push(fc.constantFrom("yes", 1, "true"));
  if (type === "array") choices.push(fc.constantFrom("not-an-array", 7), unstorable(true).map((u) => [u]));
  if (type === "object") choices.push(fc.constantFrom("not-an-object", 7, [] as unknown[]));
  return nullable ? fc.oneof(...choices.filter((c) => c !== null)) : fc.oneof(...choices);
}

// ---- requests ------------------------------------------------------------------------------

interface Req {
  fault: string;
  path: Record<string, string>;
  query: Record<string, string>;
  body: string | undefined;
}

/** Percent-encodes any string: lone surrogates (which URLs cannot carry) become U+FFFD first. */
function pct(s: string): string {
  return encodeURIComponent(s.replace(/\p{Cs}/gu, "\uFFFD"));
}

function baseOf(op: Operation): Req {
  const req: Req = { fault: "", path: {}, query: {}, body: undefined };
  for (const p of op.params) {
    if (p.in === "path") req.path[p.name] = "fuzz-unknown-id";
    else if (p.in === "query" && p.required) req.query[p.name] = String(sample(p.schema));
  }
  if (op.body) req.body = JSON.stringify(sample(op.body));
  return req;
}

/** One malformed request for `op`: exactly one definite fault, plus harmless noise (unknown fields). */
function malformed(op: Operation): fc.Arbitrary<Req> {
  const base = baseOf(op);
  const faults: fc.Arbitrary<Req>[] = [
    // An unknown query parameter that cannot be stored: refused whatever the route.
    fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), unstorable(false)).map(([k, v]) => ({ ...base, fault: "unknown query parameter", query: { ...base.query, [`z${k}`]: v } })),
  ];
  for (const p of op.params) {
    if (p.in === "path") {
      faults.push(unstorable(false).map((v) => ({ ...base, fault: `path ${p.name}`, path: { ...base.path, [p.name]: v } })));
    } else if (p.in === "query") {
      const s = main(p.schema);
      const arbs: fc.Arbitrary<string>[] = [unstorable(false)];
      if (s.type === "integer" || s.type === "number") arbs.push(badNumber(s, true) as fc.Arbitrary<string>);
      if (s.enum) arbs.push(fc.constant("__bogus__"));
      if (typeof s.maxLength === "number") arbs.push(fc.constant("q".repeat(s.maxLength + 1)));
      faults.push(fc.oneof(...arbs).map((v) => ({ ...base, fault: `query ${p.name}`, query: { ...base.query, [p.name]: v } })));
    }
  }
  if (op.body) {
    const body = main(op.body);
    const root = sample(op.body) as Record<string, unknown>;
    faults.push(fc.constantFrom("[]", '"text"', "42", "null", "{", "").map((raw) => ({ ...base, fault: "body of the wrong type", body: raw })));
    for (const [key, prop] of Object.entries<Schema>(body.properties ?? {})) {
      faults.push(
        fc
          .tuple(wrongFor(prop), fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).map((k) => `extra_${k}`), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }))
          .map(([v, extra]) => ({ ...base, fault: `body.${key}`, body: JSON.stringify({ ...extra, ...root, [key]: v }) })),
      );
      if (body.required?.includes(key)) {
        const { [key]: _gone, ...rest } = root;
        faults.push(fc.constant({ ...base, fault: `body.${key} missing`, body: JSON.stringify(rest) }));
      }
    }
    faults.push(unstorable(true).map((v) => ({ ...base, fault: "unknown body field", body: JSON.stringify({ ...root, [`extra${v.slice(0, 3)}`]: v }) })));
    faults.push(unstorable(true).map((v) => ({ ...base, fault: "unstorable body key", body: JSON.stringify({ ...root, [v.slice(0, 40)]: 1 }) })));
  }
  return fc.oneof(...faults);
}

async function send(op: Operation, req: Req, token: string | null) {
  let path = op.path;
  for (const [k, v] of Object.entries(req.path)) path = path.replace(`{${k}}`, pct(v));
  const qs = Object.entries(req.query)
    .map(([k, v]) => `${pct(k)}=${pct(v)}`)
    .join("&");
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const res = await http.request(`${path}${qs ? `?${qs}` : ""}`, { method: op.method, headers, body: req.body });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    // checked below
  }
  return { status: res.status, body, text };
}

/** A digest of every table but the outbox (which the dispatcher drains in the background). */
async function digest(): Promise<string> {
  const tables = executeRows<{ table_name: string }>(
    await server.database.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not in ('outbox', '__drizzle_migrations') order by table_name`),
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const [row] = executeRows<{ d: string | null; n: number }>(
      await server.database.db.execute(
        sql`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as d, count(*)::int as n from ${sql.identifier(table_name)} t`,
      ),
    );
    parts.push(`${table_name}:${row?.n}:${row?.d}`);
  }
  return parts.join("\n");
}

const FORBIDDEN = new Set<string>([ErrorCode.STORAGE_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.INTERNAL]);

it("the document lists the operations to fuzz", () => {
  expect(operations.length).toBeGreaterThan(15);
});

describe("every operation: a malformed request is one coded 4xx, nothing changes, the server keeps serving", () => {
  for (const [who, token] of [
    ["admin", adminToken],
    ["no token", null],
  ] as const) {
    for (const op of operations) {
      it(`${who}: ${op.method} ${op.path}`, async () => {
        const before = await digest();
        await fc.assert(
          fc.asyncProperty(malformed(op), async (req) => {
            const r = await send(op, req, token);
            const what = `${req.fault}: ${r.status} ${r.text.slice(0, 160)}`;
            expect(r.status, what).toBeGreaterThanOrEqual(400);
            expect(r.status, what).toBeLessThan(500);
            expect(ERROR_CODES, what).toContain(r.body?.code);
            expect(FORBIDDEN.has(r.body.code), what).toBe(false);
            expect(typeof r.body.message, what).toBe("string");
          }),
          { seed: 42, numRuns: 12 },
        );
        expect(await digest()).toBe(before);
        const health = await http.request("/healthz");
        expect(health.status).toBe(200);
      });
    }
  }
});

it("the fuzz can fail: a NUL in the text of a well-formed login is refused with INVALID_PAYLOAD, not passed on", async () => {
  const r = await http.request("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: EMAIL.admin, password: "demo-\u0000password" }),
  });
  expect(r.status).toBe(400);
  expect(((await r.json()) as { code: string }).code).toBe("INVALID_PAYLOAD");
});
