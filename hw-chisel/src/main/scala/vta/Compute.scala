package vta

import chisel3._
import chisel3.util._

/** One lane of the ALU, per isa/SPEC.md (ALU): signed MIN/MAX, wrapping ADD and MUL, and SHR with a
 * full signed 32-bit amount (negative shifts left; 32 or more to the left gives 0). */
object AluLane {
  def apply(op: UInt, x: SInt, y: SInt): UInt = {
    val w = Isa.accWidth
    val shr = x >> Mux(y > (w - 1).S, (w - 1).U, y(log2Ceil(w) - 1, 0))
    val negY = 0.S((w + 1).W) - y
    val shl = Mux(negY >= w.S, 0.U, (x.asUInt << negY(log2Ceil(w) - 1, 0))(w - 1, 0))
    MuxLookup(op, (x +% y).asUInt)(
      Seq(
        Isa.aluMin.U -> Mux(x < y, x, y).asUInt,
        Isa.aluMax.U -> Mux(x > y, x, y).asUInt,
        Isa.aluShr.U -> Mux(y < 0.S, shl, shr.asUInt),
        Isa.aluMul.U -> (x * y).asUInt(w - 1, 0)
      )
    )(w - 1, 0)
  }
}

/**
 * GEMM and ALU: an index generator issuing one micro-op per cycle (every other cycle for tensor-tensor
 * ALU, whose two operands share the accumulator's single read port), then
 *   S1  micro-op word arrives; the three indices are formed,
 *   S2  SRAM reads (GEMM: inp, wgt, acc[d]; ALU: acc[d], and acc[s] one cycle earlier),
 *   S3  dot product or ALU lanes, write acc[d].
 * A read issued in the cycle of a write to the same row takes the written value (forwarding), so
 * back-to-back micro-ops on one destination see each other's results.
 */
class TensorExec extends Module {
  val io = IO(new Bundle {
    val start = Input(Bool())
    val insn = Input(UInt(128.W))
    val done = Output(Bool())
    val uop = new SramRead(Isa.uopIdx, Isa.uopBits)
    val inp = new SramRead(Isa.inpIdx, Isa.inpBits)
    val wgt = new SramRead(Isa.wgtIdx, Isa.wgtBits)
    val acc = new SramRead(Isa.accIdx, Isa.accBits)
    val accWr = Valid(new SramWrite(Isa.accIdx, Isa.accBits))
    val gemmOp = Output(Bool())
    val aluOp = Output(Bool())
  })
  val insn = io.insn
  val isAlu = Isa.opcode(insn) === Isa.opAlu.U
  val doReset = !isAlu && Isa.resetReg(insn).asBool
  val withImm = Isa.useImm(insn).asBool
  val twoCycle = isAlu && !withImm
  val srcIdx = math.max(Isa.inpIdx, Isa.accIdx)
  val srcOut = Mux(isAlu, Isa.aluSrcFactorOut(insn), Isa.gemmSrcFactorOut(insn))
  val srcIn = Mux(isAlu, Isa.aluSrcFactorIn(insn), Isa.gemmSrcFactorIn(insn))

  // Index generator: offsets accumulate i*factor_out + j*factor_in without multipliers.
  val bgn = Isa.uopBgn(insn)
  val end = Isa.uopEnd(insn)
  val nOut = Isa.iterOut(insn)
  val nIn = Isa.iterIn(insn)
  val running = RegInit(false.B)
  val busy = RegInit(false.B)
  val phase = RegInit(false.B)
  val k = Reg(UInt(Isa.uopEnd.width.W))
  val i = Reg(UInt(Isa.iterOut.width.W))
  val j = Reg(UInt(Isa.iterIn.width.W))
  val dI, dJ = Reg(UInt(Isa.accIdx.W))
  val sI, sJ = Reg(UInt(srcIdx.W))
  val wI, wJ = Reg(UInt(Isa.wgtIdx.W))
  when(io.start) {
    running := bgn < end && nOut =/= 0.U && nIn =/= 0.U
    busy := true.B
    phase := false.B
    k := bgn
    i := 0.U
    j := 0.U
    dI := 0.U; dJ := 0.U
    sI := 0.U; sJ := 0.U
    wI := 0.U; wJ := 0.U
  }
  val issue = running && !(twoCycle && phase)
  when(running && twoCycle) { phase := !phase }
  when(issue) {
    val lastK = k === end - 1.U
    val lastJ = j === nIn - 1.U
    k := Mux(lastK, bgn, k + 1.U)
    when(lastK) {
      when(lastJ) {
        j := 0.U
        i := i + 1.U
        val nd = dI + Isa.dstFactorOut(insn)
        val ns = sI + srcOut
        val nw = wI + Isa.wgtFactorOut(insn)
        dI := nd; dJ := nd
        sI := ns; sJ := ns
        wI := nw; wJ := nw
        when(i === nOut - 1.U) { running := false.B }
      }.otherwise {
        j := j + 1.U
        dJ := dJ + Isa.dstFactorIn(insn)
        sJ := sJ + srcIn
        wJ := wJ + Isa.wgtFactorIn(insn)
      }
    }
  }
  io.uop.en := issue
  io.uop.addr := k(Isa.uopIdx - 1, 0)

  // S1
  val s1v = RegNext(issue, false.B)
  val s1d = RegNext(dJ)
  val s1s = RegNext(sJ)
  val s1w = RegNext(wJ)
  val u = io.uop.data
  // S2
  val s2v = RegNext(s1v, false.B)
  val s2d = RegNext(Isa.uopDst(u) + s1d)
  val s2s = RegNext(Isa.uopSrc(u) + s1s)
  val s2w = RegNext(Isa.uopWgt(u) + s1w)
  // Tensor-tensor ALU: S2 reads acc[s], S2b (next cycle) reads acc[d].
  val s2bv = RegNext(s2v && twoCycle, false.B)
  val s2bd = RegNext(s2d)
  val readSrc = s2v && twoCycle
  io.acc.en := s2v || s2bv
  io.acc.addr := Mux(readSrc, s2s(Isa.accIdx - 1, 0), Mux(s2bv, s2bd, s2d))
  io.inp.en := s2v && !isAlu
  io.inp.addr := s2s(Isa.inpIdx - 1, 0)
  io.wgt.en := s2v && !isAlu
  io.wgt.addr := s2w

  // Forwarding of the write made in the same cycle as a read.
  val fwdHit = RegNext(io.accWr.valid && io.accWr.bits.addr === io.acc.addr && io.acc.en, false.B)
  val fwdData = RegNext(io.accWr.bits.data)
  val accRead = Mux(fwdHit, fwdData, io.acc.data)
  val srcData = RegEnable(accRead, RegNext(readSrc, false.B))

  // S3
  val s3v = RegNext((s2v && !twoCycle) || s2bv, false.B)
  val s3d = RegNext(Mux(s2bv, s2bd, s2d))
  def lanes(x: UInt, bits: Int, n: Int): Seq[SInt] = (0 until n).map(l => x((l + 1) * bits - 1, l * bits).asSInt)
  val accLanes = lanes(accRead, Isa.accWidth, Isa.accBits / Isa.accWidth)
  val inpLanes = lanes(io.inp.data, Isa.inpWidth, Isa.inpBits / Isa.inpWidth)
  val wgtLanes = lanes(io.wgt.data, Isa.wgtWidth, Isa.wgtBits / Isa.wgtWidth)
  val gemmOut = VecInit(for (b <- 0 until Isa.batch; o <- 0 until Isa.blockOut) yield {
    val prods = (0 until Isa.blockIn).map(c => inpLanes(b * Isa.blockIn + c) * wgtLanes(o * Isa.blockIn + c))
    val dot = VecInit(prods).reduceTree((a, b) => a +& b)
    (accLanes(b * Isa.blockOut + o) + dot).asUInt(Isa.accWidth - 1, 0)
  }).asUInt
  val y = Mux(withImm, VecInit(Seq.fill(Isa.batch * Isa.blockOut)(Isa.imm(insn).asSInt.pad(Isa.accWidth).asUInt)).asUInt, srcData)
  val yLanes = lanes(y, Isa.accWidth, Isa.accBits / Isa.accWidth)
  val aluOut = VecInit(accLanes.zip(yLanes).map { case (x, yy) => AluLane(Isa.aluOpcode(insn), x, yy) }).asUInt
  io.accWr.valid := s3v
  io.accWr.bits.addr := s3d
  io.accWr.bits.data := Mux(isAlu, aluOut, Mux(doReset, 0.U, gemmOut))
  io.gemmOp := s3v && !isAlu && !doReset
  io.aluOp := s3v && isAlu

  val finishing = busy && !io.start && !running && !s1v && !s2v && !s2bv && !s3v
  when(finishing) { busy := false.B }
  io.done := finishing
}

/**
 * Compute: LOADs of UOP, ACC and ACC_8BIT, GEMM, ALU and FINISH. Owns the micro-op and accumulator
 * SRAMs and the out mirror (the low byte of every accumulator lane, kept in step with every
 * accumulator write, which the store module reads).
 */
class Compute extends Module {
  val io = IO(new Bundle {
    val cmd = Flipped(Decoupled(UInt(128.W)))
    val popPrev = Flipped(Decoupled(UInt(0.W)))
    val popNext = Flipped(Decoupled(UInt(0.W)))
    val pushPrev = Decoupled(UInt(0.W))
    val pushNext = Decoupled(UInt(0.W))
    val uopBase = Input(UInt(Core.addrBits.W))
    val accBase = Input(UInt(Core.addrBits.W))
    val uopMem = new MemReadClient
    val accMem = new MemReadClient
    val inp = new SramRead(Isa.inpIdx, Isa.inpBits)
    val wgt = new SramRead(Isa.wgtIdx, Isa.wgtBits)
    val out = Flipped(new SramRead(Isa.accIdx, Isa.outBits))
    val finish = Output(Bool())
    val retire = Output(Bool())
    val events = Output(new Bundle {
      val gemm = Bool()
      val alu = Bool()
      val accWrite = Bool()
      val uopLoaded = Bool()
      val accLoaded = Bool()
      val acc8Loaded = Bool()
    })
  })
  val seq = Module(new Sequencer(usePrev = true, useNext = true))
  seq.io.cmd <> io.cmd
  seq.io.popPrev <> io.popPrev
  seq.io.popNext <> io.popNext
  io.pushPrev <> seq.io.pushPrev
  io.pushNext <> seq.io.pushNext
  val insn = seq.io.insn
  val op = Isa.opcode(insn)
  val mt = Isa.memType(insn)
  val isLoad = op === Isa.opLoad.U
  val sync = isLoad && Isa.xSize(insn) === 0.U
  val isUop = isLoad && mt === Isa.memUop.U
  val isAcc8 = mt === Isa.memAcc8.U
  val isExec = op === Isa.opGemm.U || op === Isa.opAlu.U

  val uopEng = Module(new TensorLoad(1, wordMode = true))
  uopEng.io.start := seq.io.start && !sync && isUop
  uopEng.io.insn := insn
  uopEng.io.base := io.uopBase
  uopEng.io.elemBeatsLog := 0.U
  io.uopMem <> uopEng.io.mem

  val accEng = Module(new TensorLoad(Isa.accBits / Core.busBits, wordMode = false))
  accEng.io.start := seq.io.start && !sync && isLoad && !isUop
  accEng.io.insn := insn
  accEng.io.base := io.accBase
  accEng.io.elemBeatsLog := Mux(isAcc8, log2Ceil(Isa.outBits / Core.busBits).U, log2Ceil(Isa.accBits / Core.busBits).U)
  io.accMem <> accEng.io.mem

  val exec = Module(new TensorExec)
  exec.io.start := seq.io.start && isExec
  exec.io.insn := insn

  seq.io.done := (seq.io.start && (sync || op === Isa.opFinish.U)) || uopEng.io.done || accEng.io.done || exec.io.done
  io.finish := seq.io.retire && op === Isa.opFinish.U
  io.retire := seq.io.retire

  val uopSram = SyncReadMem(Isa.uopDepth, UInt(Isa.uopBits.W))
  when(uopEng.io.wr.valid) {
    uopSram.write(uopEng.io.wr.bits.addr(Isa.uopIdx - 1, 0), Mux(uopEng.io.wr.bits.pad, 0.U, uopEng.io.wr.bits.data))
  }
  exec.io.uop.data := uopSram.read(exec.io.uop.addr, exec.io.uop.en)

  io.inp.en := exec.io.inp.en
  io.inp.addr := exec.io.inp.addr
  exec.io.inp.data := io.inp.data
  io.wgt.en := exec.io.wgt.en
  io.wgt.addr := exec.io.wgt.addr
  exec.io.wgt.data := io.wgt.data

  // The accumulator has one 64-bit lane per bus beat of an ACC element; the out mirror keeps the
  // low bytes of the same lanes (16 bits per lane). A load writes a beat's lanes at a time: an ACC
  // beat fills one lane; an ACC_8BIT beat carries 8 int8 values, sign-extended into four lanes.
  val accLanes = Isa.accBits / Core.busBits
  val laneAccs = Core.busBits / Isa.accWidth
  val outLaneBits = laneAccs * 8
  val accSram = SyncReadMem(Isa.accDepth, Vec(accLanes, UInt(Core.busBits.W)))
  val outSram = SyncReadMem(Isa.accDepth, Vec(accLanes, UInt(outLaneBits.W)))
  def narrow(lane: UInt): UInt = Cat((0 until laneAccs).reverse.map(a => lane(a * Isa.accWidth + 7, a * Isa.accWidth)))
  val w = accEng.io.wr.bits
  val beat = w.data
  val acc8Lanes = Core.busBits / 8 / laneAccs // accumulator lanes one ACC_8BIT beat fills
  val acc8Group = VecInit((0 until acc8Lanes).map { j =>
    Cat((0 until laneAccs).reverse.map(a => beat((j * laneAccs + a) * 8 + 7, (j * laneAccs + a) * 8).asSInt.pad(Isa.accWidth).asUInt))
  })
  val loadAcc = VecInit((0 until accLanes).map(l => Mux(w.pad, 0.U, Mux(isAcc8, acc8Group(l % acc8Lanes), beat))))
  val acc8Mask = Mux(w.pad, ((BigInt(1) << accLanes) - 1).U, (((BigInt(1) << acc8Lanes) - 1).U << (w.unit * acc8Lanes.U))(accLanes - 1, 0))
  val loadMask = Mux(isAcc8, acc8Mask, VecInit(LoadWrite.lanes(w, accLanes)._2).asUInt)

  val execData = VecInit((0 until accLanes).map(l => exec.io.accWr.bits.data((l + 1) * Core.busBits - 1, l * Core.busBits)))
  val byExec = exec.io.accWr.valid
  val wrValid = byExec || accEng.io.wr.valid
  val wrAddr = Mux(byExec, exec.io.accWr.bits.addr, w.addr(Isa.accIdx - 1, 0))
  val wrAcc = Mux(byExec, execData, loadAcc)
  val wrMask = Mux(byExec, ((BigInt(1) << accLanes) - 1).U, loadMask).asBools
  when(wrValid) {
    accSram.write(wrAddr, wrAcc, wrMask)
    outSram.write(wrAddr, VecInit(wrAcc.map(narrow)), wrMask)
  }
  exec.io.acc.data := accSram.read(exec.io.acc.addr, exec.io.acc.en).asUInt
  io.out.data := outSram.read(io.out.addr, io.out.en).asUInt

  io.events.gemm := exec.io.gemmOp
  io.events.alu := exec.io.aluOp
  io.events.accWrite := wrValid
  io.events.uopLoaded := uopEng.io.loaded
  io.events.accLoaded := accEng.io.loaded && !isAcc8
  io.events.acc8Loaded := accEng.io.loaded && isAcc8
}
