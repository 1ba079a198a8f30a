// The model state as a PostgreSQL value (type bismarck.model_state): see src/igd/state.hpp for
// the layout. Helpers to read one from a Datum safely and to allocate new ones.
#pragma once

#include "uda/boundary.hpp"

#include "igd/state.hpp"
#include "models/registry.hpp"

#include <string>
#include <vector>

namespace bismarck::uda {

using igd::StateHeader;

// Reads a model_state argument: detoasts it, makes sure it is 8-byte aligned and validates it.
// A state of bismarck 0.1.0 (format 1) is upgraded on the way, its classes taken as 0 and 1 (as
// 0.1.0's prediction by value returned them). Every state that reaches C++ from SQL goes through
// here once per call (not once per row).
const StateHeader *read_state(Datum d);

// Validates `len` bytes at `p` (a varlena with a 4-byte header) or raises an error.
void check_state(const void *p, size_t len);

// A zeroed state in the current memory context with its model header, parameters and meta block
// laid out (parameters zero), and `n_work` work doubles. Errors if the model would be too large.
StateHeader *new_state(const igd::ModelInfo &model, const std::string &meta, int64_t n_work = 0,
                       bool shared = false);

// A copy of `h` in the current memory context with `n_work` work doubles (zeroed) and its
// parameters kept or, for a shared-memory state, left in the segment.
StateHeader *copy_state(const StateHeader *h, int64_t n_work, bool shared);

inline size_t state_size(const StateHeader *h) {
    return igd::state_bytes(*h);
}

inline models::Task task_of(const StateHeader *h) {
    return models::Task(h->model.task);
}

// The meta block's sections.
std::vector<igd::meta::Section> meta_of(const StateHeader *h);

}  // namespace bismarck::uda
