import { VisitorTokens } from "../../server/channels/webchat/visitors.ts";
import { createHttpApp } from "../../server/http/app.ts";
import type { AppDeps } from "../../server/http/env.ts";
import type { App } from "./server.ts";

/**
 * The HTTP routes built by the server's own factory from a running server's parts (its database,
 * auth, presence, intake, metrics, limits), with `overrides` for what a test varies (the metrics
 * token, trusted proxies …). No background work runs behind them.
 */
export function httpAppOf(app: App, overrides: Partial<AppDeps> = {}) {
  return createHttpApp({
    database: app.database,
    auth: app.auth,
    log: app.log,
    now: () => new Date(),
    publishInbox: () => {},
    presence: app.presence,
    kickJobs: () => {},
    intake: app.intake,
    publicUrl: () => app.url,
    metrics: app.metrics,
    metricsToken: undefined,
    limits: app.limits,
    trustedProxies: 0,
    visitorTokens: new VisitorTokens("http-app-test-secret-http-app-test-secret", 60),
    ...overrides,
  });
}
