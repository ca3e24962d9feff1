import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../../domain/errors.ts";
import { type App, EMAIL, login, startTestServer } from "../support/server.ts";

/**
 * Malformed input, driven by the served OpenAPI document (so routes added later are covered
 * without editing this file): every malformed request is a 4xx `{ code, message }` with a known
 * code, never a 5xx; every /api operation refuses a missing or forged token with 401.
 *
 * The server starts at collection time so there is one test per documented operation.
 */
const app: App = await startTestServer();
afterAll(async () => {
  await app?.stop();
});
const adminToken = await login(app, EMAIL.admin);
const doc: any = await (await fetch(`${app.url}/openapi.json`)).json();
const validator = new Validator();
await validator.validate(doc);
const spec: any = validator.resolveRefs();

const METHODS = ["get", "put", "post", "delete", "patch"] as const;
/** Stands in for every path parameter: valid in form, names nothing. */
const PLACEHOLDER = "fuzz-unknown-id";
const LONG = 10_000;

interface Param {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Schema;
}
type Schema = Record<string, any>;
interface Operation {
  method: string;
  path: string;
  params: Param[];
  body: Schema | null;
  secured: boolean;
}

const operations: Operation[] = [];
for (const [path, item] of Object.entries<any>(spec.paths ?? {})) {
  for (const method of METHODS) {
    const op = item[method];
    if (!op) continue;
    operations.push({
      method: method.toUpperCase(),
      path,
      params: [...(item.parameters ?? []), ...(op.parameters ?? [])],
      body: op.requestBody?.content?.["application/json"]?.schema ?? null,
      secured: Array.isArray(op.security) && op.security.length > 0,
    });
  }
}

// ---- values from schemas -------------------------------------------------------------------

function typesOf(s: Schema): string[] {
  if (Array.isArray(s.type)) return s.type;
  if (typeof s.type === "string") return [s.type];
  return [];
}

/** The first alternative of a union (what `sample` builds on). */
function main(s: Schema): Schema {
  if (s.anyOf?.length) return main(s.anyOf[0]);
  if (s.oneOf?.length) return main(s.oneOf[0]);
  if (s.allOf?.length) {
    const merged: Schema = { type: "object", properties: {}, required: [] };
    for (const part of s.allOf.map(main)) {
      Object.assign(merged.properties, part.properties);
      merged.required.push(...(part.required ?? []));
    }
    return merged;
  }
  return s;
}

/** A valid value of a schema (as far as a schema can say). */
function sample(schema: Schema | undefined): unknown {
  if (!schema) return "x";
  const s = main(schema);
  if ("const" in s) return s.const;
  if (s.enum) return s.enum[0];
  if ("default" in s) return s.default;
  const type = typesOf(s).find((t) => t !== "null") ?? (s.properties ? "object" : "string");
  switch (type) {
    case "string": {
      if (s.format === "email") return "fuzz@example.test";
      if (s.format === "date-time") return new Date(0).toISOString();
      if (s.format === "uuid") return "00000000-0000-4000-8000-000000000000";
      return "x".repeat(Math.max(1, s.minLength ?? 1));
    }
    case "integer":
    case "number":
      return Math.max(s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1), Math.min(1, s.maximum ?? 1));
    case "boolean":
      return true;
    case "array":
      return Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sample(s.items));
    case "object": {
      const out: Record<string, unknown> = {};
      for (const key of s.required ?? []) out[key] = sample(s.properties?.[key]);
      return out;
    }
    default:
      return "x";
  }
}

interface Bad {
  what: string;
  value: unknown;
  /** Malformed by the schema: must be refused. A soft case (no declared maximum) must only not be a 5xx. */
  soft?: boolean;
}

/** Values a schema declares wrong (or, soft, longer than anything sensible). */
function badValues(schema: Schema | undefined, inQuery: boolean): Bad[] {
  if (!schema) return [];
  const s = main(schema);
  const types = typesOf(s);
  const out: Bad[] = [];
  if (s.enum || "const" in s) {
    out.push({ what: "unknown enum value", value: "__bogus__" });
    if (!inQuery) out.push({ what: "wrong type (number)", value: 12345 });
    return out;
  }
  if (types.includes("integer") || types.includes("number")) {
    out.push({ what: "wrong type (text)", value: "abc" });
    if (types.includes("integer") && !types.includes("number")) out.push({ what: "not an integer", value: 1.5 });
    if (s.minimum !== undefined) out.push({ what: "below minimum", value: s.minimum - 1 });
    if (s.exclusiveMinimum !== undefined) out.push({ what: "at exclusive minimum", value: s.exclusiveMinimum });
    if (s.maximum !== undefined) out.push({ what: "above maximum", value: s.maximum + 1 });
    if (s.maximum === undefined) out.push({ what: "huge number", value: "1e400", soft: inQuery });
  } else if (types.includes("string")) {
    if (!inQuery) out.push({ what: "wrong type (number)", value: 12345 });
    if (!inQuery) out.push({ what: "wrong type (object)", value: { a: 1 } });
    if (s.maxLength !== undefined) out.push({ what: "over maxLength", value: "x".repeat(s.maxLength + 1) });
    else out.push({ what: "oversize (no maxLength declared)", value: "x".repeat(LONG), soft: true });
    if ((s.minLength ?? 0) >= 1) out.push({ what: "empty", value: "" });
    if (s.format === "email") out.push({ what: "not an email", value: "not-an-email" });
  } else if (types.includes("boolean")) {
    out.push({ what: "wrong type (text)", value: inQuery ? "maybe" : "yes" });
  } else if (types.includes("array") && !inQuery) {
    out.push({ what: "wrong type (text)", value: "not-an-array" });
    if ((s.minItems ?? 0) >= 1) out.push({ what: "empty array", value: [] });
    if (s.maxItems !== undefined) out.push({ what: "over maxItems", value: Array.from({ length: s.maxItems + 1 }, () => sample(s.items)) });
    for (const b of badValues(s.items, false).filter((b) => !b.soft).slice(0, 2)) out.push({ what: `item ${b.what}`, value: [b.value] });
  } else if (types.includes("object") && !inQuery) {
    out.push({ what: "wrong type (text)", value: "not-an-object" });
  }
  return out;
}

function requires(schema: Schema): boolean {
  if (schema.anyOf) return schema.anyOf.every(requires);
  if (schema.oneOf) return schema.oneOf.every(requires);
  return (schema.required?.length ?? 0) > 0;
}

/** Sets `value` at `path` inside a copy of `root`. */
function setAt(root: unknown, path: string[], value: unknown, remove = false): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  if (rest.length === 0 && remove) delete copy[head];
  else copy[head] = setAt(copy[head], rest, value, remove);
  return copy;
}

/** Whole bodies, valid but for one property (missing, or a bad value), nested objects included. */
function propertyMutations(schema: Schema, at: string[], depth: number, root: unknown = sample(schema)): Bad[] {
  const out: Bad[] = [];
  if (depth > 3) return out;
  for (const [key, raw] of Object.entries<Schema>(schema.properties ?? {})) {
    const path = [...at, key];
    const name = `body.${path.join(".")}`;
    if (schema.required?.includes(key)) out.push({ what: `${name}: missing`, value: setAt(root, path, undefined, true) });
    for (const bad of badValues(raw, false)) out.push({ what: `${name}: ${bad.what}`, value: setAt(root, path, bad.value), soft: bad.soft });
    const prop = main(raw);
    if (typesOf(prop).includes("object") || (prop.properties && !prop.type)) {
      // Nested: the property present with its valid sample, then its own properties wrong in turn.
      const withProp = setAt(root, path, sample(prop));
      out.push(...propertyMutations(prop, path, depth + 1, withProp));
    }
  }
  return out;
}

// ---- requests ------------------------------------------------------------------------------

interface Req {
  label: string;
  soft?: boolean;
  path: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** `undefined`: no body; a string: sent as it is. */
  body: string | undefined;
}

function asParam(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function baseRequest(op: Operation): Req {
  const req: Req = { label: "valid base", path: {}, query: {}, headers: {}, body: undefined };
  for (const p of op.params) {
    if (p.in === "path") req.path[p.name] = PLACEHOLDER;
    else if (p.required && p.in === "query") req.query[p.name] = asParam(sample(p.schema));
    else if (p.required && p.in === "header") req.headers[p.name] = asParam(sample(p.schema));
  }
  if (op.body) req.body = JSON.stringify(sample(op.body));
  return req;
}

type Where = "path" | "query" | "headers";

function malformedRequests(op: Operation): Req[] {
  const base = baseRequest(op);
  const out: Req[] = [];
  /** The base request with one parameter set (or removed, `undefined`). */
  const withParam = (label: string, where: Where, name: string, value: string | undefined, soft?: boolean) => {
    const r: Req = { ...base, label, soft, path: { ...base.path }, query: { ...base.query }, headers: { ...base.headers } };
    if (value === undefined) delete r[where][name];
    else r[where][name] = value;
    out.push(r);
  };
  /** The base request with another body (`undefined`: none). */
  const withBody = (label: string, body: string | undefined, soft?: boolean) => {
    out.push({ ...base, label, soft, body });
  };
  for (const p of op.params) {
    if (p.in === "cookie") continue;
    const where: Where = p.in === "path" ? "path" : p.in === "query" ? "query" : "headers";
    for (const bad of badValues(p.schema, true)) {
      if (p.in === "path" && bad.value === "") continue; // an empty segment is another route
      withParam(`${p.in} ${p.name}: ${bad.what}`, where, p.name, asParam(bad.value), bad.soft);
    }
    if (p.in === "path") withParam(`path ${p.name}: oversize`, where, p.name, "x".repeat(LONG));
    if (p.required && p.in !== "path") withParam(`${p.in} ${p.name}: missing`, where, p.name, undefined);
  }
  if (op.body) {
    withBody("body: not JSON", '{"unterminated": ');
    withBody("body: a JSON array", "[]");
    withBody("body: a JSON string", '"text"');
    withBody("body: a JSON number", "42");
    withBody("body: JSON null", "null");
    if (requires(op.body)) {
      withBody("body: missing", undefined);
      withBody("body: empty object", "{}");
    }
    // Each alternative of a union in turn, each property (nested objects too) wrong in turn.
    const alternatives: Schema[] = op.body.anyOf ?? op.body.oneOf ?? [op.body];
    for (const alt of alternatives) {
      for (const bad of propertyMutations(main(alt), [], 0)) withBody(bad.what, JSON.stringify(bad.value), bad.soft);
    }
  }
  return out;
}

async function send(op: Operation, req: Req, token: string | null) {
  let path = op.path;
  for (const [k, v] of Object.entries(req.path)) path = path.replace(`{${k}}`, encodeURIComponent(v));
  const qs = new URLSearchParams(req.query).toString();
  const headers: Record<string, string> = { ...req.headers };
  if (token) headers.authorization = `Bearer ${token}`;
  if (req.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${app.url}${path}${qs ? `?${qs}` : ""}`, { method: op.method, headers, body: req.body });
  const text = await res.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    // reported below
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body, text };
}

function errorProblem(r: Awaited<ReturnType<typeof send>>): string | null {
  if (!/application\/json/.test(r.contentType)) return `not JSON (${r.contentType}): ${r.text.slice(0, 80)}`;
  if (!r.body || typeof r.body !== "object") return `body is not an object: ${r.text.slice(0, 80)}`;
  if (!(ERROR_CODES as readonly string[]).includes(r.body.code)) return `unknown code ${JSON.stringify(r.body.code)}`;
  if (typeof r.body.message !== "string" || r.body.message.length === 0) return "no message";
  return null;
}

// ---- tests ---------------------------------------------------------------------------------

it("the document lists operations to check", () => {
  expect(operations.length).toBeGreaterThan(5);
  expect(operations.filter((o) => o.params.length > 0 || o.body).length).toBeGreaterThan(3);
});

describe("malformed input is 4xx { code, message } with a known code, never 5xx (admin token)", () => {
  for (const op of operations.filter((o) => o.params.length > 0 || o.body)) {
    it(`${op.method} ${op.path}`, async () => {
      const problems: string[] = [];
      const cases = malformedRequests(op);
      expect(cases.length).toBeGreaterThan(0);
      for (const req of cases) {
        const r = await send(op, req, op.secured ? adminToken : null);
        if (r.status >= 500) {
          problems.push(`${req.label}: ${r.status} ${r.text.slice(0, 120)}`);
          continue;
        }
        if (r.status < 400) {
          if (!req.soft) problems.push(`${req.label}: accepted with ${r.status}`);
          continue;
        }
        const p = errorProblem(r);
        if (p) problems.push(`${req.label}: ${r.status} ${p}`);
      }
      expect(problems).toEqual([]);
    });
  }
});

describe("every /api/v2 and /api/v1 operation without a valid token is 401 UNAUTHENTICATED", () => {
  for (const op of operations.filter((o) => /^\/api\/v[12]\//.test(o.path))) {
    it(`${op.method} ${op.path}`, async () => {
      const base = baseRequest(op);
      for (const token of [null, "not-a-jwt"]) {
        const r = await send(op, base, token);
        expect([token, r.status, r.body?.code]).toEqual([token, 401, "UNAUTHENTICATED"]);
        expect(errorProblem(r)).toBeNull();
      }
    });
  }
});
