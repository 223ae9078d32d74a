package vta

import chisel3._
import chisel3.util._

/** The reader's side of a synchronous SRAM read port: data arrives the cycle after `en`. */
class SramRead(idxBits: Int, dataBits: Int) extends Bundle {
  val en = Output(Bool())
  val addr = Output(UInt(idxBits.W))
  val data = Input(UInt(dataBits.W))
}

class SramWrite(idxBits: Int, dataBits: Int) extends Bundle {
  val addr = UInt(idxBits.W)
  val data = UInt(dataBits.W)
}

/**
 * Walks the DRAM rows of a 2-D memory instruction (y_size rows of x_size elements, x_stride elements
 * apart) and issues read or write bursts of at most Core.maxBurst beats covering them.
 * `elemLog2Bytes` is the element size; with 4-byte elements (micro-ops) a row may start in the upper
 * half of a beat, so the row is widened to whole beats and the data path drops the extra words.
 */
class RowBursts extends Module {
  val io = IO(new Bundle {
    val start = Input(Bool())
    val insn = Input(UInt(128.W))
    val base = Input(UInt(Core.addrBits.W))
    val elemLog2Bytes = Input(UInt(4.W))
    val req = Decoupled(new MemReq)
    val idle = Output(Bool())
  })
  val ySize = Isa.ySize(io.insn)
  val xSize = Isa.xSize(io.insn)
  val rowElem = Reg(UInt(Isa.dramBase.width.W))
  val rowsLeft = RegInit(0.U(Isa.ySize.width.W))
  val beatsLeft = RegInit(0.U(24.W))
  val addr = Reg(UInt(Core.addrBits.W))

  // The first row is set up in the start cycle, each later one when the previous has been requested.
  val elem = Mux(io.start, Isa.dramBase(io.insn), rowElem)
  val left = Mux(io.start, ySize, rowsLeft)
  when(io.start) { beatsLeft := 0.U }
  when((io.start || beatsLeft === 0.U) && left =/= 0.U) {
    val a = (io.base + (elem << io.elemLog2Bytes))(Core.addrBits - 1, 0)
    val rowBytes = (xSize << io.elemLog2Bytes) + a(2, 0)
    addr := Cat(a(Core.addrBits - 1, 3), 0.U(3.W))
    beatsLeft := (rowBytes + 7.U) >> 3
    rowElem := elem + Isa.xStride(io.insn)
    rowsLeft := left - 1.U
  }.elsewhen(io.start) {
    rowsLeft := 0.U
  }
  val n = Mux(beatsLeft > Core.maxBurst.U, Core.maxBurst.U, beatsLeft)
  io.req.valid := beatsLeft =/= 0.U
  io.req.bits.addr := addr
  io.req.bits.len := (n - 1.U)(Core.lenBits - 1, 0)
  when(io.req.fire) {
    addr := addr + (n << 3)
    beatsLeft := beatsLeft - n
  }
  io.idle := beatsLeft === 0.U && rowsLeft === 0.U
}

/** One SRAM write of a LOAD: a padding element (every unit zero) or one unit of a data element. */
class LoadWrite(unitBits: Int, unitIdxBits: Int) extends Bundle {
  val addr = UInt(16.W)
  val pad = Bool()
  val unit = UInt(unitIdxBits.W)
  val data = UInt(unitBits.W)
}

/**
 * A LOAD engine: DRAM rows in, SRAM writes out, with the zero padding of isa/SPEC.md (LOAD). The
 * writer walks the padded SRAM image in order and writes a padding element in one cycle and a data
 * element one unit per cycle as the units arrive, so wide elements are never assembled in a
 * register: the SRAMs take masked unit writes.
 *
 * Units are bus beats (an element is 2^elemBeatsLog of them, at most `maxBeats`, chosen at run time
 * so one engine serves ACC and ACC_8BIT) or, with `wordMode`, 32-bit micro-ops, two per beat, where
 * a row may start in the upper half of a beat.
 */
class TensorLoad(maxBeats: Int, wordMode: Boolean) extends Module {
  val unitBits = if (wordMode) 32 else Core.busBits
  val unitIdxBits = math.max(1, log2Ceil(maxBeats))
  val maxUnits = if (wordMode) 1 else maxBeats
  val io = IO(new Bundle {
    val start = Input(Bool())
    val insn = Input(UInt(128.W))
    val base = Input(UInt(Core.addrBits.W))
    // Four bits: a 64x64 weight element is 2^9 beats of a 64-bit bus.
    val elemBeatsLog = Input(UInt(4.W))
    val mem = new MemReadClient
    val wr = Valid(new LoadWrite(unitBits, unitIdxBits))
    /** A data element completes in this cycle (for the element counters). */
    val loaded = Output(Bool())
    val done = Output(Bool())
  })
  val insn = io.insn
  val xSize = Isa.xSize(insn)
  val ySize = Isa.ySize(insn)

  val bursts = Module(new RowBursts)
  bursts.io.start := io.start
  bursts.io.insn := insn
  bursts.io.base := io.base
  bursts.io.elemLog2Bytes := (if (wordMode) 2.U else io.elemBeatsLog +& 3.U)
  io.mem.req <> bursts.io.req

  val units = Wire(Decoupled(UInt(unitBits.W)))
  if (wordMode) {
    val words = Module(new Queue(UInt(32.W), 2))
    val rowsLeft = RegInit(0.U(Isa.ySize.width.W))
    val wordsLeft = RegInit(0.U(Isa.xSize.width.W))
    val oddStart = Reg(Bool())
    val skip = Reg(Bool())
    val upper = Reg(Bool())
    when(io.start) {
      rowsLeft := ySize
      wordsLeft := 0.U
      oddStart := Isa.dramBase(insn)(0) ^ io.base(2)
    }.elsewhen(wordsLeft === 0.U && rowsLeft =/= 0.U) {
      wordsLeft := xSize
      skip := oddStart
      upper := false.B
      oddStart := oddStart ^ Isa.xStride(insn)(0)
      rowsLeft := rowsLeft - 1.U
    }
    val skipping = !upper && skip
    val active = wordsLeft =/= 0.U
    val beatEnds = upper || wordsLeft === 1.U
    words.io.enq.valid := active && !skipping && io.mem.data.valid
    words.io.enq.bits := Mux(upper, io.mem.data.bits.data(63, 32), io.mem.data.bits.data(31, 0))
    io.mem.data.ready := active && !skipping && words.io.enq.ready && beatEnds
    when(active && skipping && io.mem.data.valid) {
      upper := true.B
      skip := false.B
    }
    when(words.io.enq.fire) {
      wordsLeft := wordsLeft - 1.U
      upper := !beatEnds
    }
    units <> words.io.deq
  } else {
    units.valid := io.mem.data.valid
    units.bits := io.mem.data.bits.data
    io.mem.data.ready := units.ready
  }
  val lastUnit = if (wordMode) 0.U else (1.U << io.elemBeatsLog) - 1.U

  // The writer walks rows x columns of the padded SRAM image.
  val yPad0 = Isa.yPad0(insn)
  val xPad0 = Isa.xPad0(insn)
  val rows = yPad0 +& ySize +& Isa.yPad1(insn)
  val rowLen = xPad0 +& xSize +& Isa.xPad1(insn)
  val y = Reg(UInt(18.W))
  val x = Reg(UInt(18.W))
  val unit = RegInit(0.U(unitIdxBits.W))
  val addr = Reg(UInt(16.W))
  val writing = RegInit(false.B)
  when(io.start) {
    writing := true.B
    y := 0.U
    x := 0.U
    unit := 0.U
    addr := Isa.sramBase(insn)
  }
  val isData = y >= yPad0 && y < yPad0 +& ySize && x >= xPad0 && x < xPad0 +& xSize
  val empty = rows === 0.U || rowLen === 0.U
  val active = writing && !empty
  units.ready := active && isData
  val write = active && (!isData || units.valid)
  io.wr.valid := write
  io.wr.bits.addr := addr
  io.wr.bits.pad := !isData
  io.wr.bits.unit := unit
  io.wr.bits.data := units.bits
  val elemDone = !isData || unit === lastUnit
  val lastX = x === rowLen - 1.U
  val lastY = y === rows - 1.U
  val finishing = writing && (empty || (write && elemDone && lastX && lastY))
  when(write) {
    unit := Mux(elemDone, 0.U, unit + 1.U)
    when(elemDone) {
      addr := addr + 1.U
      x := Mux(lastX, 0.U, x + 1.U)
      when(lastX) { y := y + 1.U }
    }
  }
  when(finishing) { writing := false.B }
  io.done := finishing
  io.loaded := write && isData && elemDone
}

object LoadWrite {
  /** Lane data and write mask for an SRAM of `lanes` lanes, each lane one unit of the element. */
  def lanes(w: LoadWrite, lanes: Int): (Vec[UInt], Seq[Bool]) = {
    val data = VecInit(Seq.fill(lanes)(Mux(w.pad, 0.U, w.data)))
    val mask = Mux(w.pad, ((BigInt(1) << lanes) - 1).U, UIntToOH(w.unit, lanes)).asBools
    (data, mask)
  }
}

/**
 * The STORE engine: reads the out mirror sequentially from sram_base (rows of x_size elements are
 * contiguous in SRAM) and writes DRAM rows x_stride elements apart; done once every burst is acked.
 */
class TensorStore extends Module {
  val elemBeats = Isa.outBits / Core.busBits
  val io = IO(new Bundle {
    val start = Input(Bool())
    val insn = Input(UInt(128.W))
    val base = Input(UInt(Core.addrBits.W))
    val out = new SramRead(Isa.accIdx, Isa.outBits)
    val wrReq = Decoupled(new MemReq)
    val wrData = Decoupled(UInt(Core.busBits.W))
    val wrAck = Input(Bool())
    val stored = Output(Bool())
    val done = Output(Bool())
  })
  val insn = io.insn
  val bursts = Module(new RowBursts)
  bursts.io.start := io.start
  bursts.io.insn := insn
  bursts.io.base := io.base
  bursts.io.elemLog2Bytes := log2Ceil(Isa.outBits / 8).U
  io.wrReq <> bursts.io.req

  val running = RegInit(false.B)
  val left = RegInit(0.U(32.W))
  val rdAddr = Reg(UInt(16.W))
  val inflight = RegInit(false.B)
  val acksDue = RegInit(0.U(16.W))
  val q = Module(new Queue(UInt(Isa.outBits.W), 4))
  when(io.start) {
    running := true.B
    left := Isa.xSize(insn) * Isa.ySize(insn)
    rdAddr := Isa.sramBase(insn)
  }
  val issue = running && left =/= 0.U && (q.io.count +& inflight.asUInt) < 3.U
  io.out.en := issue
  io.out.addr := rdAddr
  when(issue) {
    left := left - 1.U
    rdAddr := rdAddr + 1.U
  }
  inflight := issue
  q.io.enq.valid := inflight
  q.io.enq.bits := io.out.data

  val beat = RegInit(0.U(log2Ceil(elemBeats).W))
  val beats = VecInit((0 until elemBeats).map(b => q.io.deq.bits((b + 1) * Core.busBits - 1, b * Core.busBits)))
  val lastBeat = beat === (elemBeats - 1).U
  io.wrData.valid := q.io.deq.valid
  io.wrData.bits := beats(beat)
  q.io.deq.ready := io.wrData.ready && lastBeat
  when(io.wrData.fire) { beat := Mux(lastBeat, 0.U, beat + 1.U) }
  io.stored := q.io.deq.fire

  acksDue := acksDue + io.wrReq.fire.asUInt - io.wrAck.asUInt
  val finishing = running && !io.start && bursts.io.idle && left === 0.U && !inflight && !q.io.deq.valid &&
    acksDue === 0.U && !io.wrReq.valid
  when(finishing) { running := false.B }
  io.done := finishing
}
