/**
 * The on-chip state of one core: the uop, inp, wgt and acc SRAMs sized by the configuration
 * (SPEC.md §3; there is no separate out buffer), and the kernel that computes on them. With
 * the SIMD kernel the SRAMs live in the WebAssembly memory itself, so the kernel reads and writes
 * them in place and loads/stores copy straight into it.
 */
import type { VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import { jsKernel, simdKernelFits, sramLayout, wasmKernel, type ComputeKernel } from './kernels.ts';
import { webAssembly, type WasmMemory } from './wasm.ts';

/** `auto`: the SIMD kernel where it fits, else JS; `wasm` fails where it does not fit. */
export type KernelChoice = 'auto' | 'wasm' | 'js';

const WASM_PAGE = 65536;
const WASM_MAX_PAGES = 65536;

export class SramState {
  readonly uop: Uint32Array;
  readonly inp: Int8Array;
  /**
   * Weights, row o of element e holding the weights of output o. Write them only through
   * LOADs (or call `wgtWritten` after writing), as the kernel may keep its own copy.
   */
  readonly wgt: Int8Array;
  readonly acc: Int32Array;
  /** Byte views of the same storage, for copies from and to DRAM. */
  readonly uopBytes: Uint8Array;
  readonly inpBytes: Uint8Array;
  readonly wgtBytes: Uint8Array;
  readonly accBytes: Uint8Array;
  readonly kernel: ComputeKernel;

  constructor(readonly cfg: VtaConfig, choice: KernelChoice = 'auto') {
    const uopLen = cfg.UOP_DEPTH;
    const inpLen = cfg.INP_DEPTH * cfg.INP_ELEM_BYTES;
    const wgtLen = cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES;
    const accLen = cfg.ACC_DEPTH * cfg.BATCH * cfg.BLOCK_OUT;
    let memory: WasmMemory | null = null;
    let layout = sramLayout(cfg, false);
    if (choice !== 'js' && webAssembly && simdKernelFits(cfg)) {
      const simdLayout = sramLayout(cfg, true);
      const pages = Math.ceil(simdLayout.bytes / WASM_PAGE);
      if (pages <= WASM_MAX_PAGES) {
        memory = new webAssembly.Memory({ initial: pages, maximum: pages });
        layout = simdLayout;
      }
    }
    const buffer = memory?.buffer ?? new ArrayBuffer(layout.bytes);
    this.uop = new Uint32Array(buffer, layout.uop, uopLen);
    this.inp = new Int8Array(buffer, layout.inp, inpLen);
    this.wgt = new Int8Array(buffer, layout.wgt, wgtLen);
    this.acc = new Int32Array(buffer, layout.acc, accLen);
    this.uopBytes = new Uint8Array(buffer, layout.uop, uopLen * 4);
    this.inpBytes = new Uint8Array(buffer, layout.inp, inpLen);
    this.wgtBytes = new Uint8Array(buffer, layout.wgt, wgtLen);
    this.accBytes = new Uint8Array(buffer, layout.acc, accLen * 4);
    // The JS kernel works on any layout, so a host that refuses the module still runs.
    const kernel = memory ? wasmKernel(cfg, layout, memory, this) : null;
    if (!kernel && choice === 'wasm') {
      throw new VtaError(
        'VTA_SIM_KERNEL',
        `the WebAssembly SIMD kernel does not fit configuration ${cfg.fingerprint} (it needs BLOCK >= 4, SRAMs within 4 GiB, and WebAssembly SIMD in this Node)`,
      );
    }
    this.kernel = kernel ?? jsKernel(cfg, this);
  }

  /** Tells the kernel that weight elements [first, end) changed. */
  wgtWritten(first: number, end: number): void {
    this.kernel.wgtWritten(first, end);
  }
}
