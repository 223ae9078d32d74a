// The op registry sits below the graph: no op module reaches graph.ts through its imports (type-only
// ones included), graph.ts reaches no op definition, and a graph imported before the op set works
// once the op set is imported.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const IR = path.resolve(import.meta.dirname, '../../compiler/ir');

/** Project files a module imports (relative specifiers, `import type` and re-exports included). */
function importsOf(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const specs = [...src.matchAll(/^\s*(?:import|export)\b[^';]*?'(\.[^']+)'/gm)].map((m) => m[1]!);
  return specs.map((s) => path.resolve(path.dirname(file), s));
}

function reachable(file: string): Set<string> {
  const seen = new Set<string>();
  const stack = [file];
  while (stack.length) {
    for (const next of importsOf(stack.pop()!)) {
      if (!seen.has(next)) {
        seen.add(next);
        stack.push(next);
      }
    }
  }
  return seen;
}

const opModules = fs.readdirSync(path.join(IR, 'ops')).filter((f) => f.endsWith('.ts'));
const rel = (files: Iterable<string>) => [...files].map((f) => path.relative(IR, f)).sort();

describe('IR layering', () => {
  it('finds the imports it checks', () => {
    expect(rel(importsOf(path.join(IR, 'ops/index.ts')))).toEqual(
      ['ops/elementwise.ts', 'ops/integer.ts', 'ops/nn.ts', 'ops/quantize.ts', 'ops/reduce.ts', 'ops/transform.ts'],
    );
    expect(rel(importsOf(path.join(IR, 'graph.ts')))).toContain('types.ts');
  });

  it.each(opModules)('ops/%s does not reach graph.ts', (name) => {
    expect(rel(reachable(path.join(IR, 'ops', name)))).not.toContain('graph.ts');
  });

  it('graph.ts reaches the registry but no op definition', () => {
    const reached = rel(reachable(path.join(IR, 'graph.ts')));
    expect(reached).toContain('ops/registry.ts');
    expect(reached.filter((f) => f.startsWith('ops/') && f !== 'ops/registry.ts')).toEqual([]);
  });

  it('a graph imported first builds calls once the op set is imported', async () => {
    const graph = await import('../../compiler/ir/graph.ts');
    const x = graph.variable('x', { shape: [2, 3], dtype: 'float32' });
    // Each test file has its own module registry, and nothing above imported the op set.
    expect(() => graph.call('nn.relu', [x])).toThrow(/nn\.relu: unknown operator: no operator is registered/);
    await import('../../compiler/ir/ops/index.ts');
    expect(graph.call('nn.relu', [x]).type).toEqual({ shape: [2, 3], dtype: 'float32' });
    expect(() => graph.call('no_such_op', [x])).toThrow(/^no_such_op: unknown operator$/);
  });
});
