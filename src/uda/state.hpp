// The model state as a PostgreSQL value (type bismarck.model_state): see src/igd/state.hpp for
// the layout. Helpers to read one from a Datum safely and to allocate new ones.
#pragma once

#include "uda/boundary.hpp"

#include "igd/state.hpp"
#include "models/registry.hpp"

namespace bismarck::uda {

using igd::StateHeader;

// Reads a model_state argument: detoasts it, makes sure it is 8-byte aligned and validates it.
// Every state that reaches C++ from SQL goes through here once per call (not once per row).
const StateHeader *read_state(Datum d);

// A zeroed state of the given size in the current memory context, header filled in.
StateHeader *new_state(models::Task task, int64_t dim, int64_t rows, int64_t cols, int64_t n_params,
                       int64_t n_scaler, bool with_prev, bool shared);

// A copy of `h` in the current memory context, with or without the `prev` block.
StateHeader *copy_state(const StateHeader *h, bool with_prev);

inline size_t state_size(const StateHeader *h) {
    return igd::state_bytes(h->n_params, h->n_scaler, h->flags & igd::kHasPrev,
                            h->flags & igd::kShared);
}

inline models::Task task_of(const StateHeader *h) {
    return models::Task(h->task);
}

}  // namespace bismarck::uda
