import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

/**
 * A real server in a child process (`server/main.ts`), for tests that kill it with `kill -9`
 * and start it again on the same data.
 */
const root = join(import.meta.dirname, "..", "..");
const children = new Set<ChildProcess>();

export interface ChildServer {
  readonly child: ChildProcess;
  readonly url: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Child servers inherit `REDIS_URL`. Two test files' servers on the same Redis database would be
 * one deployment over two data sets (rooms created in each other's processes), so each file gives
 * its servers a Redis database of its own. Taken: 1 and 4 (restart/durability), 2 (rooms/two-process),
 * 3 (server/live-roles-processes), 5–11 (server/redis.test.ts draws one), 12 (push/two-process), 13 (scheduler/processes), 14 (cluster/cluster),
 * 15 (restart/deactivation-resume). (0 is REDIS_URL's own, server/redis-outage.)
 */
export function childRedis(db: number): Record<string, string> {
  const base = process.env.REDIS_URL;
  if (!base) return {};
  const url = new URL(base);
  url.pathname = `/${db}`;
  return { REDIS_URL: url.toString() };
}

export interface ChildOptions {
  /** Sets `PUBLIC_ADDRESS` to the child's own `127.0.0.1:<port>` (several processes: joins reach the room's process). */
  readonly publicAddress?: boolean;
  /** Extra node options before the script (the benchmarks' `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
}

/** Starts the server with `env` on top of this process's environment and waits until `/readyz` answers. */
export async function startChildServer(env: Record<string, string>, opts: ChildOptions = {}): Promise<ChildServer> {
  const port = await freePort();
  const own: Record<string, string> = opts.publicAddress ? { PUBLIC_ADDRESS: `127.0.0.1:${port}` } : {};
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", "server/main.ts"], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "warn", ...env, ...own, PORT: String(port), HOST: "127.0.0.1", SEED_DEMO: "true", JWT_SECRET: "kill9-secret-kill9-secret-kill9-secret" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  children.add(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) return { child, url };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `kill -9`, resolved once the process is gone. */
export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      resolve();
      return;
    }
    child.once("exit", () => {
      children.delete(child);
      resolve();
    });
    child.kill("SIGKILL");
  });
}

/** Kills every child server still running (for `afterAll`). */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => killHard(c)));
}

/**
 * Sends `signal` (SIGTERM by default) and resolves with the exit code once the process is gone
 * (null when a signal ended it).
 */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      children.delete(child);
      resolve(child.exitCode);
      return;
    }
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    });
    child.kill(signal);
  });
}
