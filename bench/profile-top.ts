/**
 * The top entries of a V8 CPU profile (`node --cpu-prof`): self time by function and by package
 * (node_modules/<package>, or "ours" for the project's files, "node" for Node's own), as shares
 * of the profile's sampled time.
 *
 *   npx tsx bench/profile-top.ts /tmp/prof/CPU.….cpuprofile [top=15] [from-s] [to-s]
 *
 * With from/to (seconds since the profile began) only the samples of that window count — the load
 * phase of a bench without the server's start; PROF_TIMELINE=1 prints busy time per second first,
 * to find the window.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which package a script belongs to. */
export function packageOf(url: string): string {
  if (!url) return "(native / idle / gc)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith("node:")) return "node";
  return "ours";
}

function main() {
  const [file, topArg, fromArg, toArg] = process.argv.slice(2);
  if (!file) throw new Error("usage: profile-top.ts <file.cpuprofile> [top]");
  const top = Number(topArg ?? 15);
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const from = fromArg === undefined ? -Infinity : Number(fromArg) * 1e6;
  const to = toArg === undefined ? Infinity : Number(toArg) * 1e6;
  const self = new Map<number, number>();
  const perSecond: number[] = [];
  let at = 0;
  for (const [i, id] of p.samples.entries()) {
    const us = p.timeDeltas[i] ?? 0;
    at += us;
    const name = byId.get(id)!.callFrame.functionName;
    if (name !== "(idle)" && name !== "(program)") perSecond[Math.floor(at / 1e6)] = (perSecond[Math.floor(at / 1e6)] ?? 0) + us;
    if (at < from || at > to) continue;
    self.set(id, (self.get(id) ?? 0) + us);
  }
  if (process.env.PROF_TIMELINE) console.log(`busy per second: ${Array.from(perSecond, (us, s) => `${s}:${Math.round((us ?? 0) / 1e4)}%`).join(" ")}`);
  let total = 0;
  let idle = 0;
  const fns = new Map<string, number>();
  const pkgs = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") {
      idle += us;
      continue;
    }
    total += us;
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, "")}:${n.callFrame.lineNumber + 1}` : "";
    const key = `${name} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
    const pkg = packageOf(n.callFrame.url);
    pkgs.set(pkg, (pkgs.get(pkg) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  console.log(`busy ${(total / 1e6).toFixed(2)} s sampled (idle/program ${(idle / 1e6).toFixed(2)} s left out)`);
  console.log("\nby package (self time):");
  for (const [k, us] of [...pkgs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
  console.log("\nby function (self time):");
  for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
}

main();
