package vta

import IsaConstants._

/**
 * The ISA as the core uses it, taken from the generated IsaConstants (npm run gen): hardware fields
 * as extractors over instruction and micro-op words, plus the element widths in bits.
 */
object Isa {
  private def f(c: IsaConstants.Field): vta.Field = vta.Field(c.offset, c.width)

  val batch = BATCH
  val blockIn = BLOCK_IN
  val blockOut = BLOCK_OUT
  val inpWidth = INP_WIDTH
  val wgtWidth = WGT_WIDTH
  val accWidth = ACC_WIDTH
  require(inpWidth == 8 && wgtWidth == 8 && OUT_WIDTH == 8 && accWidth == 32, "the core supports int8 x int8 -> int32 only")
  require(BUS_WIDTH == Core.busBits, s"the core's memory port is ${Core.busBits} bits, the configuration asks for $BUS_WIDTH")
  require(TOKEN_QUEUE_DEPTH == Core.tokenDepth && COMMAND_QUEUE_DEPTH == Core.cmdDepth)

  val uopDepth = UOP_DEPTH
  val inpDepth = INP_DEPTH
  val wgtDepth = WGT_DEPTH
  val accDepth = ACC_DEPTH

  val opLoad = Opcode.LOAD
  val opStore = Opcode.STORE
  val opGemm = Opcode.GEMM
  val opFinish = Opcode.FINISH
  val opAlu = Opcode.ALU

  val memUop = MemId.UOP
  val memWgt = MemId.WGT
  val memInp = MemId.INP
  val memAcc = MemId.ACC
  val memOut = MemId.OUT
  val memAcc8 = MemId.ACC_8BIT

  val aluMin = AluOpcode.MIN
  val aluMax = AluOpcode.MAX
  val aluAdd = AluOpcode.ADD
  val aluShr = AluOpcode.SHR
  val aluMul = AluOpcode.MUL

  val opcode = f(MemFields.opcode)
  val popPrev = f(MemFields.pop_prev_dep)
  val popNext = f(MemFields.pop_next_dep)
  val pushPrev = f(MemFields.push_prev_dep)
  val pushNext = f(MemFields.push_next_dep)

  val memType = f(MemFields.memory_type)
  val sramBase = f(MemFields.sram_base)
  val dramBase = f(MemFields.dram_base)
  val ySize = f(MemFields.y_size)
  val xSize = f(MemFields.x_size)
  val xStride = f(MemFields.x_stride)
  val yPad0 = f(MemFields.y_pad_0)
  val yPad1 = f(MemFields.y_pad_1)
  val xPad0 = f(MemFields.x_pad_0)
  val xPad1 = f(MemFields.x_pad_1)

  val resetReg = f(GemmFields.reset_reg)
  val uopBgn = f(GemmFields.uop_bgn)
  val uopEnd = f(GemmFields.uop_end)
  val iterOut = f(GemmFields.iter_out)
  val iterIn = f(GemmFields.iter_in)
  val dstFactorOut = f(GemmFields.dst_factor_out)
  val dstFactorIn = f(GemmFields.dst_factor_in)
  val gemmSrcFactorOut = f(GemmFields.src_factor_out)
  val gemmSrcFactorIn = f(GemmFields.src_factor_in)
  val wgtFactorOut = f(GemmFields.wgt_factor_out)
  val wgtFactorIn = f(GemmFields.wgt_factor_in)
  val aluSrcFactorOut = f(AluFields.src_factor_out)
  val aluSrcFactorIn = f(AluFields.src_factor_in)
  val aluOpcode = f(AluFields.alu_opcode)
  val useImm = f(AluFields.use_imm)
  val imm = f(AluFields.imm)
  // One decoder serves GEMM and ALU, so their loop fields must sit at the same bits.
  require(
    Seq(
      GemmFields.reset_reg -> AluFields.reset_reg,
      GemmFields.uop_bgn -> AluFields.uop_bgn,
      GemmFields.uop_end -> AluFields.uop_end,
      GemmFields.iter_out -> AluFields.iter_out,
      GemmFields.iter_in -> AluFields.iter_in,
      GemmFields.dst_factor_out -> AluFields.dst_factor_out,
      GemmFields.dst_factor_in -> AluFields.dst_factor_in
    ).forall { case (g, a) => g == a },
    "GEMM and ALU loop fields differ"
  )

  val uopDst = f(UopFields.dst_idx)
  val uopSrc = f(UopFields.src_idx)
  val uopWgt = f(UopFields.wgt_idx)

  val inpBits = batch * blockIn * inpWidth
  val wgtBits = blockOut * blockIn * wgtWidth
  val accBits = batch * blockOut * accWidth
  val outBits = batch * blockOut * OUT_WIDTH
  val uopBits = 8 * UOP_ELEM_BYTES
  val uopIdx = LOG_UOP_DEPTH
  val inpIdx = LOG_INP_DEPTH
  val wgtIdx = LOG_WGT_DEPTH
  val accIdx = LOG_ACC_DEPTH
}
