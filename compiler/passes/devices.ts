/**
 * device_copy insertion and device propagation (reference §4).
 *
 * insertDeviceCopies puts a copy on every edge whose producer and consumer
 * devices differ and nowhere else (parameters live on the CPU; constants go
 * wherever they are read, as in Relay, and never get copies). One copy serves
 * every consumer on the same device.
 *
 * propagateDevices then recomputes every node's device from the copies alone,
 * by the top-down recursion of #6124 (the intelfocl fix): from the results,
 * which are on the fallback device, a copy is tagged with its destination and
 * its argument visited with its source device; any other call takes the
 * device it is visited with and passes it to each argument. The answer cannot
 * depend on argument order; the earlier reverse-post-order walk, which carried
 * the source of the last copy seen, could (it put the conv branch of
 * ResNet-50's first residual block on the CPU).
 */
import { VtaError } from '../../isa/errors.ts';
import { call, topoOrder, type Device, type IRFunction, type Value } from '../ir/graph.ts';
import { rewrite } from './rewrite.ts';

export class DevicePlacementError extends VtaError {
  constructor(message: string) {
    super('VTA_PLACEMENT', message);
  }
}

const HOST: Device = 'cpu';

/** The device a value is produced on, or undefined for constants (placed with their readers). */
export function producerDevice(v: Value): Device | undefined {
  if (v.kind === 'constant') return undefined;
  if (v.kind === 'var') return HOST;
  return v.device ?? HOST;
}

export function deviceCopy(x: Value, src: Device, dst: Device): Value {
  return call('device_copy', [x], { src_device: src, dst_device: dst }, { device: dst });
}

export function insertDeviceCopies(fn: IRFunction): IRFunction {
  const copies = new Map<Value, Map<Device, Value>>();
  const onto = (v: Value, dst: Device): Value => {
    const src = producerDevice(v);
    if (src === undefined || src === dst) return v;
    const perValue = copies.get(v) ?? copies.set(v, new Map()).get(v)!;
    let copy = perValue.get(dst);
    if (!copy) perValue.set(dst, (copy = deviceCopy(v, src, dst)));
    return copy;
  };
  const out = rewrite(fn, (node, args) => {
    if (node.op === 'device_copy') return undefined;
    const dst = node.device ?? HOST;
    const moved = args.map((a) => onto(a, dst));
    return moved.some((a, i) => a !== args[i]) ? call(node.op, moved, node.attrs, { name: node.name, device: node.device }) : undefined;
  });
  return { params: out.params, results: out.results.map((r) => onto(r, HOST)) };
}

/** Recomputes and sets every node's device from the copies; throws when two paths disagree (a missing copy). */
export function propagateDevices(fn: IRFunction, fallback: Device = HOST): Map<Value, Device> {
  const devices = new Map<Value, Device>();
  const stack: [Value, Device][] = fn.results.map((r) => [r, fallback]);
  while (stack.length) {
    const [v, dev] = stack.pop()!;
    const seen = devices.get(v);
    if (seen !== undefined) {
      if (seen !== dev && v.kind !== 'constant') throw new DevicePlacementError(`${describe(v)} is read on ${dev} and on ${seen} without a device_copy between them`);
      continue;
    }
    if (v.kind === 'var' && dev !== HOST) throw new DevicePlacementError(`parameter %${v.name} is read on ${dev} without a device_copy from ${HOST}`);
    devices.set(v, dev);
    if (v.kind !== 'call') continue;
    if (v.op === 'device_copy') {
      if (v.attrs['dst_device'] !== dev) throw new DevicePlacementError(`a device_copy to ${String(v.attrs['dst_device'])} is read on ${dev}`);
      stack.push([v.args[0]!, String(v.attrs['src_device'])]);
    } else {
      for (const a of v.args) stack.push([a, dev]);
    }
  }
  for (const [v, d] of devices) v.device = d;
  return devices;
}

function describe(v: Value): string {
  return v.kind === 'call' ? `${v.op}${v.name ? ` (${v.name})` : ''}` : `${v.kind} ${v.name}`;
}

/** Copies and cross-device edges, for reports and checks. */
export function copyStats(fn: IRFunction): { copies: number; crossEdgesWithoutCopy: number; sameDeviceCopies: number } {
  let copies = 0;
  let cross = 0;
  let same = 0;
  for (const c of topoOrder(fn)) {
    if (c.op === 'device_copy') {
      copies++;
      if (producerDevice(c.args[0]!) === c.attrs['dst_device']) same++;
      continue;
    }
    for (const a of c.args) {
      const d = producerDevice(a);
      if (d !== undefined && d !== (c.device ?? HOST)) cross++;
    }
  }
  return { copies, crossEdgesWithoutCopy: cross, sameDeviceCopies: same };
}
