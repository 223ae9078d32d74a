/**
 * Relay-style text for a function, e.g.
 *   %3 = nn.conv2d(%2, meta[w0], strides=[2, 2]) /* ty=Tensor[(1, 64, 56, 56), float32] *\/;
 * Constants print as meta[NAME]; a node's device, when set, follows its type.
 */
import { formatType, topoOrder, type AttrValue, type IRFunction, type Value } from './graph.ts';

function formatAttr(v: AttrValue): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return String(v);
  return `[${v.join(', ')}]`;
}

function annotation(v: Value): string {
  return `/* ty=${formatType(v.type)}${v.device ? `, device=${v.device}` : ''} */`;
}

export function printFunction(fn: IRFunction): string {
  const names = new Map<Value, string>();
  const metaNames = new Set<string>();
  const lines: string[] = [];
  const params = fn.params.map((p) => {
    names.set(p, `%${p.name}`);
    return `%${p.name}: ${formatType(p.type)}`;
  });
  const ref = (v: Value): string => {
    const known = names.get(v);
    if (known) return known;
    if (v.kind !== 'constant') throw new Error(`value ${v.kind} printed before it was defined`);
    // Constants without a unique name get a numbered one so that meta[...] stays unambiguous.
    let name = v.name || `c${metaNames.size}`;
    while (metaNames.has(name)) name = `${v.name || 'c'}_${metaNames.size}`;
    metaNames.add(name);
    names.set(v, `meta[${name}]`);
    return `meta[${name}]`;
  };
  topoOrder(fn).forEach((c, i) => {
    const args = c.args.map(ref);
    const attrs = Object.entries(c.attrs).map(([k, v]) => `${k}=${formatAttr(v)}`);
    lines.push(`  %${i} = ${c.op}(${[...args, ...attrs].join(', ')}) ${annotation(c)};`);
    names.set(c, `%${i}`);
  });
  const results = fn.results.map(ref);
  const resultType = fn.results.length === 1 ? formatType(fn.results[0]!.type) : `(${fn.results.map((r) => formatType(r.type)).join(', ')})`;
  lines.push(`  ${results.length === 1 ? results[0] : `(${results.join(', ')})`}`);
  return `fn (${params.join(', ')}) -> ${resultType} {\n${lines.join('\n')}\n}`;
}
