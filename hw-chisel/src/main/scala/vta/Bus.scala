package vta

import chisel3._
import chisel3.util._

/** A burst request on the memory port: `len` is the number of beats minus one (bursts of at most 256 beats). */
class MemReq extends Bundle {
  val addr = UInt(Core.addrBits.W)
  val len = UInt(Core.lenBits.W)
}

class MemReadBeat extends Bundle {
  val data = UInt(Core.busBits.W)
  val last = Bool()
}

/** One read client of the memory port (a DMA engine or fetch). Read data returns in request order. */
class MemReadClient extends Bundle {
  val req = Decoupled(new MemReq)
  val data = Flipped(Decoupled(new MemReadBeat))
}

/**
 * The core's memory port, AXI-like but reduced to what the DRAM model needs: reads return in order
 * with `last` on each burst's final beat; write data beats follow the write requests in order and each
 * write burst is acknowledged once it is in memory (the store module waits for its acks before it
 * reports completion, so a later FINISH implies the data is visible to the host).
 */
class MemPort extends Bundle {
  val rd = new MemReadClient
  val wrReq = Decoupled(new MemReq)
  val wrData = Decoupled(UInt(Core.busBits.W))
  val wrAck = Input(Bool())
}

/**
 * Grants the memory port to one burst at a time, read or write, round-robin over the clients (the
 * read clients, then the store's writes). A read burst holds the port until its last beat, a write
 * burst until its acknowledgement, so every burst pays the DRAM latency in full: the timing the
 * cycle-level simulator (sim/cycle) models with one busy port.
 */
class MemArbiter(nRead: Int) extends Module {
  val io = IO(new Bundle {
    val readers = Flipped(Vec(nRead, new MemReadClient))
    val wrReq = Flipped(Decoupled(new MemReq))
    val wrData = Flipped(Decoupled(UInt(Core.busBits.W)))
    val wrAck = Output(Bool())
    val mem = new MemPort
  })
  val n = nRead + 1
  val reqs = io.readers.map(_.req) :+ io.wrReq
  val valid = VecInit(reqs.map(_.valid)).asUInt
  // Round-robin from a reset state, so the grant order (and every cycle count) is reproducible:
  // the first requester after the last one granted, else the first requester.
  val last = RegInit((n - 1).U(log2Ceil(n).W))
  val after = valid & ~((2.U << last) - 1.U)(n - 1, 0)
  val chosen = Mux(after.orR, PriorityEncoder(after), PriorityEncoder(valid))
  val busy = RegInit(false.B)
  val owner = Reg(UInt(log2Ceil(n).W))
  val isWrite = chosen === nRead.U
  val req = VecInit(reqs.map(_.bits))(chosen)
  val grant = !busy && valid.orR && Mux(isWrite, io.mem.wrReq.ready, io.mem.rd.req.ready)
  io.mem.rd.req.valid := !busy && valid.orR && !isWrite
  io.mem.wrReq.valid := !busy && valid.orR && isWrite
  io.mem.rd.req.bits := req
  io.mem.wrReq.bits := req
  for ((r, c) <- reqs.zipWithIndex) r.ready := grant && chosen === c.U
  when(grant) {
    busy := true.B
    owner := chosen
    last := chosen
  }

  val dataReady = VecInit(io.readers.map(_.data.ready) :+ false.B)
  for (c <- 0 until nRead) {
    io.readers(c).data.valid := io.mem.rd.data.valid && owner === c.U
    io.readers(c).data.bits := io.mem.rd.data.bits
  }
  io.mem.rd.data.ready := dataReady(owner)
  io.mem.wrData <> io.wrData
  io.wrAck := io.mem.wrAck
  when((io.mem.rd.data.fire && io.mem.rd.data.bits.last) || io.mem.wrAck) { busy := false.B }
}

/** A dependency-token queue: tokens carry no data, so it is a counter; a push into a full queue waits. */
class TokenQueue(depth: Int) extends Module {
  val io = IO(new Bundle {
    val push = Flipped(Decoupled(UInt(0.W)))
    val pop = Decoupled(UInt(0.W))
    val clear = Input(Bool())
  })
  val count = RegInit(0.U(log2Ceil(depth + 1).W))
  io.push.ready := count =/= depth.U
  io.pop.valid := count =/= 0.U
  io.pop.bits := 0.U
  when(io.clear) {
    count := 0.U
  }.elsewhen(io.push.fire && !io.pop.fire) {
    count := count + 1.U
  }.elsewhen(io.pop.fire && !io.push.fire) {
    count := count - 1.U
  }
}
