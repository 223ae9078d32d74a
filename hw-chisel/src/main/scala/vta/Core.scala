package vta

import chisel3._
import chisel3.util._

/** A bit field of an instruction or micro-op word. */
case class Field(offset: Int, width: Int) {
  def apply(word: UInt): UInt = word(offset + width - 1, offset)
}

/** Core-wide sizes that are not part of the ISA: the memory port and the queue depths. */
object Core {
  val busBits = 64
  val addrBits = 32
  /** Burst length field: up to 256 beats per burst, as VTA's Pynq shell. */
  val lenBits = 8
  val maxBurst = 1 << lenBits
  /** Per-module command queues and dependency-token queues (isa/SPEC.md section 5). */
  val cmdDepth = 512
  val tokenDepth = 8
}
