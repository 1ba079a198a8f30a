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

struct SharedSegment {
    uint64_t magic;
    uint64_t token;  // a per-run secret: a state naming this segment must carry it
    int64_t n_params;
    slock_t lock;  // used only by shared_memory_locked
    // 8-byte aligned: double params[n_params]; double prev[n_params];
};

inline double *segment_params(SharedSegment *s) {
    return reinterpret_cast<double *>(reinterpret_cast<char *>(s) +
                                      MAXALIGN(sizeof(SharedSegment)));
}
inline double *segment_prev(SharedSegment *s) {
    return segment_params(s) + s->n_params;
}

// Driver side: a new segment for n_params parameters, owned by the current resource owner, so
// that an error or a cancel releases it with the transaction. Returns it mapped.
SharedSegment *shared_create(int64_t n_params, dsm_segment **seg, uint64_t *handle,
                             uint64_t *token);

// Any process: the segment `handle`, attached once per process and checked against `token`.
SharedSegment *shared_attach(uint64_t handle, uint64_t token, int64_t n_params);

}  // namespace bismarck::uda
