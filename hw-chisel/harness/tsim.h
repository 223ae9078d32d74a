// C API of the Verilator simulation of the Chisel VTA core (hw-chisel/harness/tsim.cc).
// One handle = one core plus its DRAM: a byte buffer behind the core's memory port, addressed by
// byte offset (instruction dram_base fields are offsets divided by the element size).
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vta_tsim vta_tsim;

enum vta_tsim_status { VTA_TSIM_OK = 0, VTA_TSIM_TIMEOUT = 1, VTA_TSIM_RANGE = 2, VTA_TSIM_CYCLE_BUDGET = 3 };

// Allocates a core with mem_bytes of zeroed DRAM whose reads return their first beat
// `latency` cycles after the request is accepted (later beats one per cycle) and whose write
// bursts are acknowledged `latency` cycles after their last beat. Returns NULL when out of memory.
vta_tsim* vta_tsim_create(uint64_t mem_bytes, uint32_t latency);
void vta_tsim_destroy(vta_tsim* sim);

// Host <-> DRAM copies; VTA_TSIM_RANGE when [offset, offset+len) is outside the buffer.
int vta_tsim_write(vta_tsim* sim, uint64_t offset, const void* src, uint64_t len);
int vta_tsim_read(vta_tsim* sim, uint64_t offset, void* dst, uint64_t len);

// Launches `count` instructions at byte offset insn_offset and clocks the core until FINISH.
// VTA_TSIM_TIMEOUT after timeout_ms of wall time, VTA_TSIM_CYCLE_BUDGET after max_cycles cycles
// from launch (0: no cycle budget), as when the core never reaches FINISH (a stream without one,
// a dependency-token deadlock); the core is then reset (SRAM contents stay) and usable for the
// next run.
int vta_tsim_run(vta_tsim* sim, uint64_t insn_offset, uint32_t count, double timeout_ms, uint64_t max_cycles);

// After a run: the cycle (counted from launch, as vta_tsim_cycles) at which each instruction of a
// module (0 load, 1 compute, 2 store) completed, in the module's order; *count receives their number.
const uint32_t* vta_tsim_retired(vta_tsim* sim, int module, uint32_t* count);

// After a run: the cycles from launch to FINISH, and the core's event counters.
uint32_t vta_tsim_cycles(vta_tsim* sim);
int vta_tsim_num_counters(void);
const char* vta_tsim_counter_name(int index);
uint32_t vta_tsim_counter(vta_tsim* sim, int index);
// The configuration fingerprint (isa/config.ts) the core was generated for.
const char* vta_tsim_fingerprint(void);
// The width of the core's memory port (the configuration's BUS_WIDTH).
int vta_tsim_bus_bits(void);
// Cycles clocked since creation (including register accesses and resets).
uint64_t vta_tsim_total_cycles(vta_tsim* sim);

#ifdef __cplusplus
}
#endif
