import { readFileSync } from "node:fs";

/**
 * What grew between two V8 heap snapshots (`node --heapsnapshot-signal=…`; P3 writes them with
 * BENCH_HEAP_SNAPSHOT=<dir>): self sizes summed by node type and name, and for the internal
 * arrays and hidden objects (property tables, contexts, …) by the name of the object that holds
 * them (its first retainer). Divide by the connections added for a per-connection figure.
 *
 *   npx tsx bench/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [connections] [rows]
 */
interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function summarize(file: string): Map<string, { size: number; count: number }> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const nf = s.snapshot.meta.node_fields;
  const ef = s.snapshot.meta.edge_fields;
  const N = nf.length;
  const E = ef.length;
  const types = s.snapshot.meta.node_types[0];
  const [iType, iName, iSize, iEdges] = ["type", "name", "self_size", "edge_count"].map((f) => nf.indexOf(f)) as [number, number, number, number];
  const eTo = ef.indexOf("to_node");
  const eType = ef.indexOf("type");
  const edgeTypes = s.snapshot.meta.edge_types[0];
  const weak = edgeTypes.indexOf("weak");
  const count = s.nodes.length / N;
  // The first (strong) retainer of every node, by node index.
  const parent = new Int32Array(count).fill(-1);
  let e = 0;
  for (let n = 0; n < count; n++) {
    const edges = s.nodes[n * N + iEdges]!;
    for (let k = 0; k < edges; k++, e += E) {
      if (s.edges[e + eType] === weak) continue;
      const to = s.edges[e + eTo]! / N;
      if (parent[to] === -1 && to !== n) parent[to] = n;
    }
  }
  const label = (n: number) => `${types[s.nodes[n * N + iType]!]}:${s.strings[s.nodes[n * N + iName]!]!.slice(0, 60)}`;
  const out = new Map<string, { size: number; count: number }>();
  for (let n = 0; n < count; n++) {
    const type = types[s.nodes[n * N + iType]!];
    let key = label(n);
    if ((type === "array" || type === "hidden" || type === "object shape" || type === "code") && parent[n]! >= 0) key += `  ← ${label(parent[n]!)}`;
    const row = out.get(key) ?? { size: 0, count: 0 };
    row.size += s.nodes[n * N + iSize]!;
    row.count++;
    out.set(key, row);
  }
  return out;
}

const [beforeFile, afterFile, connectionsArg, rowsArg] = process.argv.slice(2);
if (!beforeFile || !afterFile) {
  console.error("usage: heap-diff <before.heapsnapshot> <after.heapsnapshot> [connections] [rows]");
  process.exit(2);
}
const per = Number(connectionsArg ?? 1) || 1;
const rows = Number(rowsArg ?? 40) || 40;
const before = summarize(beforeFile);
const after = summarize(afterFile);
const diff: { key: string; size: number; count: number }[] = [];
for (const [key, a] of after) {
  const b = before.get(key) ?? { size: 0, count: 0 };
  diff.push({ key, size: a.size - b.size, count: a.count - b.count });
}
diff.sort((x, y) => y.size - x.size);
const total = diff.reduce((t, d) => t + d.size, 0);
console.log(`grew ${(total / 1024).toFixed(0)} KiB in all, ${(total / per).toFixed(0)} B per connection (${per})`);
console.log("bytes/conn  objects/conn  type:name  ← holder");
for (const d of diff.slice(0, rows)) console.log(`${(d.size / per).toFixed(0).padStart(9)}  ${(d.count / per).toFixed(2).padStart(12)}  ${d.key}`);
