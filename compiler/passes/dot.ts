/**
 * `--emit dot`: the graph as Graphviz, each call filled with its device's
 * colour, device_copy nodes drawn as red diamonds, the nodes of each VTA kernel
 * group boxed in a cluster, and scalar constants (the ALU immediates) shown
 * inline in their reader's label instead of as nodes.
 */
import { formatShape } from '../tensor/tensor.ts';
import { topoOrder, type Call, type IRFunction, type Value } from '../ir/graph.ts';
import type { VtaKernelGroup } from './fuse.ts';

export const DEVICE_COLORS: Readonly<Record<string, string>> = { cpu: '#cfe2f3', vta: '#f9cb9c' };
const OTHER_COLOR = '#eeeeee';
const COPY_COLOR = '#e06666';

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function scalarText(v: Value): string | undefined {
  return v.kind === 'constant' && v.value.size === 1 ? String(v.value.data[0]) : undefined;
}

export function toDot(fn: IRFunction, groups: readonly VtaKernelGroup[] = []): string {
  const ids = new Map<Value, string>();
  const lines: string[] = ['digraph vta {', '  rankdir=TB;', '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];'];
  const nodeLine = (id: string, label: string, attrs: string) => `${id} [label=${quote(label)}, ${attrs}];`;
  fn.params.forEach((p, i) => {
    ids.set(p, `p${i}`);
    lines.push(`  ${nodeLine(`p${i}`, `%${p.name}\n${formatShape(p.type.shape)} ${p.type.dtype}`, `shape=ellipse, fillcolor=${quote(DEVICE_COLORS[p.device ?? 'cpu'] ?? OTHER_COLOR)}`)}`);
  });
  const order = topoOrder(fn);
  const groupOf = new Map<Call, number>();
  groups.forEach((g, i) => g.calls.forEach((c) => groupOf.set(c, i)));
  const body: string[][] = groups.map(() => []);
  const loose: string[] = [];
  const edges: string[] = [];
  let constants = 0;
  order.forEach((c, i) => ids.set(c, `n${i}`));
  order.forEach((c, i) => {
    const imms = c.args.map(scalarText).filter((s) => s !== undefined);
    if (c.op === 'clip') imms.push(`[${String(c.attrs['a_min'])}, ${String(c.attrs['a_max'])}]`);
    const label = `${c.op}${imms.length ? ` ${imms.join(', ')}` : ''}\n${formatShape(c.type.shape)} ${c.type.dtype}`;
    const attrs = c.op === 'device_copy'
      ? `shape=diamond, fillcolor=${quote(COPY_COLOR)}, tooltip=${quote(`${String(c.attrs['src_device'])} -> ${String(c.attrs['dst_device'])}`)}`
      : `fillcolor=${quote(DEVICE_COLORS[c.device ?? 'cpu'] ?? OTHER_COLOR)}${c.name ? `, tooltip=${quote(c.name)}` : ''}`;
    const g = groupOf.get(c);
    (g === undefined ? loose : body[g]!).push(nodeLine(`n${i}`, label, attrs));
    for (const a of c.args) {
      if (scalarText(a) !== undefined) continue;
      let from = ids.get(a);
      if (!from) {
        from = `c${constants++}`;
        ids.set(a, from);
        loose.push(nodeLine(from, `${a.kind === 'constant' ? a.name : '?'}\n${formatShape(a.type.shape)} ${a.type.dtype}`, 'shape=note, fillcolor="#ffffff"'));
      }
      edges.push(`${from} -> n${i};`);
    }
  });
  body.forEach((nodes, i) => {
    lines.push(`  subgraph cluster_g${i} {`, `    label=${quote(`group ${i}: ${groups[i]!.anchor}`)};`, '    style=dashed;', ...nodes.map((n) => `    ${n}`), '  }');
  });
  lines.push(...loose.map((n) => `  ${n}`), ...edges.map((e) => `  ${e}`));
  fn.results.forEach((r, i) => {
    lines.push(`  r${i} [label="result ${i}", shape=ellipse];`, `  ${ids.get(r) ?? 'p0'} -> r${i};`);
  });
  lines.push('}');
  return lines.join('\n') + '\n';
}
