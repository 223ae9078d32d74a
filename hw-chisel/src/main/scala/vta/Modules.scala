package vta

import chisel3._
import chisel3.util._

/**
 * The instruction life cycle shared by load, compute and store: take the head of the command queue
 * once every token it pops is available (popping them in the same cycle), run it, then push its
 * tokens, waiting while a target queue is full. Flags a module does not own are ignored (a stream
 * that sets them is rejected before it reaches the device).
 */
class Sequencer(usePrev: Boolean, useNext: Boolean) extends Module {
  val io = IO(new Bundle {
    val cmd = Flipped(Decoupled(UInt(128.W)))
    val popPrev = Flipped(Decoupled(UInt(0.W)))
    val popNext = Flipped(Decoupled(UInt(0.W)))
    val pushPrev = Decoupled(UInt(0.W))
    val pushNext = Decoupled(UInt(0.W))
    val insn = Output(UInt(128.W))
    val start = Output(Bool())
    val done = Input(Bool())
    val retire = Output(Bool())
  })
  val sIdle :: sExec :: sPush :: Nil = Enum(3)
  val state = RegInit(sIdle)
  val insn = Reg(UInt(128.W))
  val head = io.cmd.bits
  val pp = if (usePrev) Isa.popPrev(head).asBool else false.B
  val pn = if (useNext) Isa.popNext(head).asBool else false.B
  val popsOk = (!pp || io.popPrev.valid) && (!pn || io.popNext.valid)
  val take = state === sIdle && io.cmd.valid && popsOk
  io.cmd.ready := state === sIdle && popsOk
  io.popPrev.ready := take && pp
  io.popNext.ready := take && pn
  when(take) {
    insn := head
    state := sExec
  }
  io.start := RegNext(take, false.B)
  io.insn := insn

  // Tokens are pushed in the cycle the instruction completes, or later while a queue is full.
  val psp = if (usePrev) Isa.pushPrev(insn).asBool else false.B
  val psn = if (useNext) Isa.pushNext(insn).asBool else false.B
  val pushOk = (!psp || io.pushPrev.ready) && (!psn || io.pushNext.ready)
  val completing = (state === sExec && io.done) || state === sPush
  val pushing = completing && pushOk
  io.pushPrev.valid := completing && psp && pushOk
  io.pushNext.valid := completing && psn && pushOk
  io.pushPrev.bits := 0.U
  io.pushNext.bits := 0.U
  when(completing) { state := Mux(pushOk, sIdle, sPush) }
  io.retire := pushing
}

/**
 * Reads `count` instructions from `addr` in bursts of up to 8 (16 beats) into a 16-entry buffer and
 * routes them, in order, to the load, compute and store command queues. A burst is requested only
 * when the buffer has room for all of it, so read data never waits on a full command queue.
 */
class Fetch extends Module {
  val io = IO(new Bundle {
    val launch = Input(Bool())
    val count = Input(UInt(32.W))
    val addr = Input(UInt(Core.addrBits.W))
    val mem = new MemReadClient
    val load = Decoupled(UInt(128.W))
    val compute = Decoupled(UInt(128.W))
    val store = Decoupled(UInt(128.W))
  })
  val bufDepth = 16
  val maxInsns = 8
  val buf = Module(new Queue(UInt(128.W), bufDepth))
  val remaining = RegInit(0.U(32.W))
  val addr = Reg(UInt(Core.addrBits.W))
  val pending = RegInit(0.U(log2Ceil(bufDepth + 1).W))
  val n = Mux(remaining > maxInsns.U, maxInsns.U, remaining)
  io.mem.req.valid := remaining =/= 0.U && (buf.io.count +& pending +& n) <= bufDepth.U
  io.mem.req.bits.addr := addr
  io.mem.req.bits.len := (n << 1) - 1.U
  when(io.launch) {
    remaining := io.count
    addr := io.addr
  }.elsewhen(io.mem.req.fire) {
    remaining := remaining - n
    addr := addr + (n << 4)
  }

  val upper = RegInit(false.B)
  val low = Reg(UInt(Core.busBits.W))
  buf.io.enq.valid := io.mem.data.valid && upper
  buf.io.enq.bits := Cat(io.mem.data.bits.data, low)
  io.mem.data.ready := !upper || buf.io.enq.ready
  when(io.mem.data.fire) {
    upper := !upper
    when(!upper) { low := io.mem.data.bits.data }
  }
  pending := pending + Mux(io.mem.req.fire, n, 0.U) - buf.io.enq.fire.asUInt

  val head = buf.io.deq.bits
  val op = Isa.opcode(head)
  val mt = Isa.memType(head)
  val toLoad = op === Isa.opLoad.U && (mt === Isa.memInp.U || mt === Isa.memWgt.U)
  val toStore = op === Isa.opStore.U
  val toCompute = !toLoad && !toStore
  io.load.valid := buf.io.deq.valid && toLoad
  io.store.valid := buf.io.deq.valid && toStore
  io.compute.valid := buf.io.deq.valid && toCompute
  io.load.bits := head
  io.store.bits := head
  io.compute.bits := head
  buf.io.deq.ready := Mux(toLoad, io.load.ready, Mux(toStore, io.store.ready, io.compute.ready))
}

/** LOADs of INP and WGT; owns the input and weight SRAMs, whose read ports serve the GEMM. */
class Load extends Module {
  val io = IO(new Bundle {
    val cmd = Flipped(Decoupled(UInt(128.W)))
    val popNext = Flipped(Decoupled(UInt(0.W)))
    val pushNext = Decoupled(UInt(0.W))
    val inpBase = Input(UInt(Core.addrBits.W))
    val wgtBase = Input(UInt(Core.addrBits.W))
    val inpMem = new MemReadClient
    val wgtMem = new MemReadClient
    val inpRd = Flipped(new SramRead(Isa.inpIdx, Isa.inpBits))
    val wgtRd = Flipped(new SramRead(Isa.wgtIdx, Isa.wgtBits))
    val inpLoaded = Output(Bool())
    val wgtLoaded = Output(Bool())
    val retire = Output(Bool())
  })
  val seq = Module(new Sequencer(usePrev = false, useNext = true))
  seq.io.cmd <> io.cmd
  seq.io.popNext <> io.popNext
  io.pushNext <> seq.io.pushNext
  seq.io.popPrev.valid := false.B
  seq.io.popPrev.bits := 0.U
  seq.io.pushPrev.ready := false.B
  io.retire := seq.io.retire
  val insn = seq.io.insn
  val sync = Isa.xSize(insn) === 0.U
  val isInp = Isa.memType(insn) === Isa.memInp.U

  val inpEng = Module(new TensorLoad(Isa.inpBits / Core.busBits, wordMode = false))
  val wgtEng = Module(new TensorLoad(Isa.wgtBits / Core.busBits, wordMode = false))
  for ((eng, sel, base, bits) <- Seq((inpEng, isInp, io.inpBase, Isa.inpBits), (wgtEng, !isInp, io.wgtBase, Isa.wgtBits))) {
    eng.io.start := seq.io.start && !sync && sel
    eng.io.insn := insn
    eng.io.base := base
    eng.io.elemBeatsLog := log2Ceil(bits / Core.busBits).U
  }
  io.inpMem <> inpEng.io.mem
  io.wgtMem <> wgtEng.io.mem
  seq.io.done := (seq.io.start && sync) || inpEng.io.done || wgtEng.io.done

  // One lane per bus beat of an element, written a beat at a time.
  val inpSram = SyncReadMem(Isa.inpDepth, Vec(inpEng.maxUnits, UInt(Core.busBits.W)))
  val wgtSram = SyncReadMem(Isa.wgtDepth, Vec(wgtEng.maxUnits, UInt(Core.busBits.W)))
  for ((eng, sram, idx) <- Seq((inpEng, inpSram, Isa.inpIdx), (wgtEng, wgtSram, Isa.wgtIdx))) {
    when(eng.io.wr.valid) {
      val (data, mask) = LoadWrite.lanes(eng.io.wr.bits, eng.maxUnits)
      sram.write(eng.io.wr.bits.addr(idx - 1, 0), data, mask)
    }
  }
  io.inpRd.data := inpSram.read(io.inpRd.addr, io.inpRd.en).asUInt
  io.wgtRd.data := wgtSram.read(io.wgtRd.addr, io.wgtRd.en).asUInt
  io.inpLoaded := inpEng.io.loaded
  io.wgtLoaded := wgtEng.io.loaded
}

/** STOREs: reads the out mirror (owned by compute) and writes DRAM. */
class Store extends Module {
  val io = IO(new Bundle {
    val cmd = Flipped(Decoupled(UInt(128.W)))
    val popPrev = Flipped(Decoupled(UInt(0.W)))
    val pushPrev = Decoupled(UInt(0.W))
    val outBase = Input(UInt(Core.addrBits.W))
    val out = new SramRead(Isa.accIdx, Isa.outBits)
    val wrReq = Decoupled(new MemReq)
    val wrData = Decoupled(UInt(Core.busBits.W))
    val wrAck = Input(Bool())
    val stored = Output(Bool())
    val retire = Output(Bool())
  })
  val seq = Module(new Sequencer(usePrev = true, useNext = false))
  io.retire := seq.io.retire
  seq.io.cmd <> io.cmd
  seq.io.popPrev <> io.popPrev
  io.pushPrev <> seq.io.pushPrev
  seq.io.popNext.valid := false.B
  seq.io.popNext.bits := 0.U
  seq.io.pushNext.ready := false.B
  val insn = seq.io.insn
  val sync = Isa.xSize(insn) === 0.U
  val eng = Module(new TensorStore)
  eng.io.start := seq.io.start && !sync
  eng.io.insn := insn
  eng.io.base := io.outBase
  io.out <> eng.io.out
  io.wrReq <> eng.io.wrReq
  io.wrData <> eng.io.wrData
  eng.io.wrAck := io.wrAck
  io.stored := eng.io.stored
  seq.io.done := (seq.io.start && sync) || eng.io.done
}
