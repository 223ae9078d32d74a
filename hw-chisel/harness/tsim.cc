// The clock loop and the DRAM model behind the core's memory port.
#include "tsim.h"

#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <new>
#include <vector>

#include "VVTACore.h"
#include "verilated.h"
#include "vta_vcr.h"

namespace {

constexpr unsigned kBeatBytes = VTA_BUS_BITS / 8;
static_assert(VTA_BUS_BITS == 64, "the DRAM model moves one uint64_t per beat");
// Bursts the DRAM model queues; the core sees rd_req_ready low beyond this.
constexpr size_t kReadQueue = 16;

struct ReadBurst {
  uint64_t addr;
  uint32_t beats;
  uint64_t readyAt;
};
struct WriteBurst {
  uint64_t addr;
  uint32_t beats;
};

}  // namespace

struct vta_tsim {
  std::unique_ptr<VerilatedContext> ctx;
  std::unique_ptr<VVTACore> top;
  std::vector<uint8_t> dram;
  uint32_t latency;
  uint64_t cycle = 0;
  std::deque<ReadBurst> reads;
  uint32_t readBeat = 0;
  std::deque<WriteBurst> writes;
  uint32_t writeBeat = 0;
  std::deque<uint64_t> acks;
  // Retirement cycles per module during a run, counted from the launch.
  bool recording = false;
  uint64_t launchCycle = 0;
  std::vector<uint32_t> retired[3];

  uint64_t load64(uint64_t addr) const {
    uint64_t v = 0;
    if (addr + kBeatBytes <= dram.size()) std::memcpy(&v, &dram[addr], kBeatBytes);
    return v;
  }
  void store64(uint64_t addr, uint64_t v) {
    if (addr + kBeatBytes <= dram.size()) std::memcpy(&dram[addr], &v, kBeatBytes);
  }

  // One clock cycle: drive the memory port from the model, settle, take the handshakes at the edge.
  void step() {
    VVTACore& t = *top;
    t.clock = 0;
    bool rvalid = !reads.empty() && reads.front().readyAt <= cycle;
    t.io_mem_rd_req_ready = reads.size() < kReadQueue;
    t.io_mem_rd_data_valid = rvalid;
    t.io_mem_rd_data_bits_data = rvalid ? load64(reads.front().addr + uint64_t(readBeat) * kBeatBytes) : 0;
    t.io_mem_rd_data_bits_last = rvalid && readBeat + 1 == reads.front().beats;
    t.io_mem_wrReq_ready = 1;
    t.io_mem_wrData_ready = !writes.empty();
    t.io_mem_wrAck = !acks.empty() && acks.front() == cycle;
    t.eval();

    bool rdReq = t.io_mem_rd_req_valid && t.io_mem_rd_req_ready;
    ReadBurst nr{t.io_mem_rd_req_bits_addr, uint32_t(t.io_mem_rd_req_bits_len) + 1, cycle + 1 + latency};
    bool rdBeat = rvalid && t.io_mem_rd_data_ready;
    bool wrReq = t.io_mem_wrReq_valid && t.io_mem_wrReq_ready;
    WriteBurst nw{t.io_mem_wrReq_bits_addr, uint32_t(t.io_mem_wrReq_bits_len) + 1};
    bool wrBeat = t.io_mem_wrData_valid && t.io_mem_wrData_ready;
    uint64_t wrData = t.io_mem_wrData_bits;
    bool ack = t.io_mem_wrAck;
    if (recording) {
      const bool r[3] = {bool(t.io_retire_0), bool(t.io_retire_1), bool(t.io_retire_2)};
      for (int m = 0; m < 3; m++)
        if (r[m]) retired[m].push_back(uint32_t(cycle - launchCycle));
    }

    t.clock = 1;
    t.eval();
    t.io_host_wen = 0;

    if (rdBeat && ++readBeat == reads.front().beats) {
      reads.pop_front();
      readBeat = 0;
    }
    if (rdReq) reads.push_back(nr);
    if (wrBeat) {
      store64(writes.front().addr + uint64_t(writeBeat) * kBeatBytes, wrData);
      if (++writeBeat == writes.front().beats) {
        writes.pop_front();
        writeBeat = 0;
        acks.push_back(cycle + 1 + latency);
      }
    }
    if (wrReq) writes.push_back(nw);
    if (ack) acks.pop_front();
    ++cycle;
  }

  void writeReg(uint32_t addr, uint32_t value) {
    top->io_host_wen = 1;
    top->io_host_addr = addr;
    top->io_host_wdata = value;
    step();
  }
  uint32_t readReg(uint32_t addr) {
    top->io_host_addr = addr;
    top->eval();
    return top->io_host_rdata;
  }

  void reset() {
    reads.clear();
    writes.clear();
    acks.clear();
    readBeat = writeBeat = 0;
    top->reset = 1;
    for (int i = 0; i < 8; i++) step();
    top->reset = 0;
    step();
  }
};

extern "C" {

vta_tsim* vta_tsim_create(uint64_t mem_bytes, uint32_t latency) {
  try {
    auto* sim = new vta_tsim();
    sim->ctx = std::make_unique<VerilatedContext>();
    sim->top = std::make_unique<VVTACore>(sim->ctx.get(), "core");
    sim->dram.assign(mem_bytes, 0);
    sim->latency = latency;
    sim->reset();
    return sim;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void vta_tsim_destroy(vta_tsim* sim) {
  if (!sim) return;
  sim->top->final();
  delete sim;
}

int vta_tsim_write(vta_tsim* sim, uint64_t offset, const void* src, uint64_t len) {
  if (offset > sim->dram.size() || len > sim->dram.size() - offset) return VTA_TSIM_RANGE;
  std::memcpy(sim->dram.data() + offset, src, len);
  return VTA_TSIM_OK;
}

int vta_tsim_read(vta_tsim* sim, uint64_t offset, void* dst, uint64_t len) {
  if (offset > sim->dram.size() || len > sim->dram.size() - offset) return VTA_TSIM_RANGE;
  std::memcpy(dst, sim->dram.data() + offset, len);
  return VTA_TSIM_OK;
}

int vta_tsim_run(vta_tsim* sim, uint64_t insn_offset, uint32_t count, double timeout_ms, uint64_t max_cycles) {
  if (insn_offset + uint64_t(count) * 16 > sim->dram.size()) return VTA_TSIM_RANGE;
  sim->writeReg(VTA_VCR_INSN_COUNT, count);
  sim->writeReg(VTA_VCR_INSN_ADDR, uint32_t(insn_offset));
  // Instruction fields hold buffer offsets already, so every base pointer is 0 (as VTA's drivers).
  for (int i = 0; i < VTA_VCR_NUM_BASES; i++) sim->writeReg(VTA_VCR_BASES + 4 * i, 0);
  for (auto& r : sim->retired) r.clear();
  sim->launchCycle = sim->cycle;
  sim->recording = true;
  sim->writeReg(VTA_VCR_CTRL, 1);
  auto t0 = std::chrono::steady_clock::now();
  // The control register stays selected, so its value is settled after every step without an extra eval.
  sim->top->io_host_addr = VTA_VCR_CTRL;
  for (;;) {
    for (int i = 0; i < 4096; i++) {
      sim->step();
      if (sim->top->io_host_rdata & 2) {
        sim->recording = false;
        return VTA_TSIM_OK;
      }
    }
    if (max_cycles != 0 && sim->cycle - sim->launchCycle > max_cycles) {
      sim->recording = false;
      sim->reset();
      return VTA_TSIM_CYCLE_BUDGET;
    }
    std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
    if (dt.count() > timeout_ms) {
      sim->recording = false;
      sim->reset();
      return VTA_TSIM_TIMEOUT;
    }
  }
}

const uint32_t* vta_tsim_retired(vta_tsim* sim, int module, uint32_t* count) {
  if (module < 0 || module > 2) {
    *count = 0;
    return nullptr;
  }
  *count = uint32_t(sim->retired[module].size());
  return sim->retired[module].data();
}

uint32_t vta_tsim_cycles(vta_tsim* sim) { return sim->readReg(VTA_VCR_CYCLES); }

int vta_tsim_num_counters(void) { return VTA_VCR_NUM_COUNTERS; }

const char* vta_tsim_counter_name(int index) {
  return index >= 0 && index < VTA_VCR_NUM_COUNTERS ? vta_vcr_counter_names[index] : nullptr;
}

uint32_t vta_tsim_counter(vta_tsim* sim, int index) { return sim->readReg(VTA_VCR_COUNTERS + 4 * index); }

const char* vta_tsim_fingerprint(void) { return VTA_FINGERPRINT; }

int vta_tsim_bus_bits(void) { return VTA_BUS_BITS; }

uint64_t vta_tsim_total_cycles(vta_tsim* sim) { return sim->cycle; }

}  // extern "C"
