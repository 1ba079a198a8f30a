// The shared-memory model of the `shared_memory` parallelism: one dynamic shared memory segment
// per training run, created by the driver, attached by every process that runs the epoch's
// aggregate (the leader and PostgreSQL's parallel workers), updated in place without locks
// (or under one spinlock per update in the `shared_memory_locked` variant).
#pragma once

#include "uda/boundary.hpp"

extern "C" {
#include "storage/dsm.h"
#include "storage/spin.h"
}

#include <cstdint>

namespace bismarck::uda {

// Every process writes the parameters, so nothing else may share their cache lines: the header
// (read-only during a run), the lock and the two parameter blocks each start a new line. 128
// bytes, not 64: x86 cores also fetch a line's neighbour, so two lines 64 bytes apart contend.
inline constexpr size_t kLine = 128;

inline constexpr size_t line_round(size_t bytes) {
    return (bytes + kLine - 1) / kLine * kLine;
}

struct SharedSegment {
    alignas(kLine) uint64_t magic;
    uint64_t token;  // a per-run secret: a state naming this segment must carry it
    int64_t n_params;
    alignas(kLine) slock_t lock;  // used only by shared_memory_locked
    // Averaging: the next global step index. Every process takes its steps' indices from here
    // (a batch's at once), so the average of the shared model's iterates weights every update
    // by when it happened, whichever process made it. The driver sets and reads it between
    // epochs.
    alignas(kLine) int64_t steps;
    // then, each on its own lines: double params[n_params]; double prev[n_params];
};

inline size_t segment_bytes(int64_t n_params) {
    return sizeof(SharedSegment) + 2 * line_round(sizeof(double) * size_t(n_params));
}
inline double *segment_params(SharedSegment *s) {
    return reinterpret_cast<double *>(reinterpret_cast<char *>(s) + sizeof(SharedSegment));
}
// The model as it was when the epoch started (read-only during the epoch).
inline double *segment_prev(SharedSegment *s) {
    return reinterpret_cast<double *>(reinterpret_cast<char *>(segment_params(s)) +
                                      line_round(sizeof(double) * size_t(s->n_params)));
}

// Driver side: a new segment for n_params parameters, owned by the current resource owner, so
// that an error or a cancel releases it with the transaction. Returns it mapped.
SharedSegment *shared_create(int64_t n_params, dsm_segment **seg, uint64_t *handle,
                             uint64_t *token);

// Any process: the segment `handle`, attached once per process and checked against `token` and
// `n_params` once per (handle, token, n_params): later calls return the mapping without reading
// the segment (the rows of an epoch call this for every row).
SharedSegment *shared_attach(uint64_t handle, uint64_t token, int64_t n_params);

// The handle of the last segment shared_create made in this process (0: none), so that a test
// can check that exactly that segment is gone after the training ended, however it ended.
uint64_t shared_last_created();

}  // namespace bismarck::uda
