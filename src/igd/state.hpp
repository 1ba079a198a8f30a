// The layout of a model state: one flat, self-describing block of memory that is at once the
// aggregate's transition state, the value passed from one epoch to the next, the stored model and
// (as hex text) what a distributed engine ships between nodes. PostgreSQL owns the first four
// bytes (the varlena length word); everything else is defined here, free of PostgreSQL.
//
//   [StateHeader][params: n_params doubles][scaler: n_scaler doubles][prev: n_params doubles]?
//
// `prev` is present only inside an epoch: the model as it was when the epoch started, on which
// the epoch's loss is measured in the same scan.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace bismarck::igd {

enum class Parallelism : uint8_t {
    serial = 0,
    shared_memory = 1,
    shared_memory_locked = 2,
    model_averaging = 3
};

struct StateHeader {
    int32_t varlena_header;  // PostgreSQL's length word; never touched here
    uint32_t magic;
    uint8_t version;
    uint8_t task;         // models::Task
    uint8_t parallelism;  // Parallelism
    uint8_t flags;        // kHasPrev | kShared
    int32_t epoch;        // 0-based epoch this state is (or was last) used for
    int64_t dim;          // linear: number of features; lmf: rank
    int64_t rows, cols;   // lmf: matrix shape (ids are 0 .. rows-1, 0 .. cols-1); linear: 0
    int64_t n_params;
    int64_t n_scaler;  // 0, or 2 * dim (means, then inverse scales) for standardised features
    double alpha, l2, l1, max_norm;
    uint64_t seed;
    uint64_t shared_handle;  // shared-memory model: the segment and its secret token
    uint64_t shared_token;
    int64_t rows_seen;  // accumulated during an epoch
    int64_t nulls_skipped;
    double loss_sum;
    int64_t batch;         // shared memory: rows between a process's exchanges with the model
    int64_t participants;  // processes whose partial states were combined into this one
    double scale;          // linear: initial-weight or label convention bits (reserved)
};

inline constexpr uint32_t kStateMagic = 0x4B4D5342;  // "BSMK"
inline constexpr uint8_t kStateVersion = 1;
inline constexpr uint8_t kHasPrev = 1;
inline constexpr uint8_t kShared = 2;  // params live in a shared segment, not in this block
// Options of one epoch, set by whoever builds the state passed to it:
inline constexpr uint8_t kEvalOnly = 0x10;      // measure the loss, take no step
inline constexpr uint8_t kNoDivergence = 0x20;  // calibration: record divergence, don't raise
inline constexpr uint8_t kNullIsError = 0x40;   // on_null => 'error'

// A state can hold at most this many parameters (the varlena limit is 1 GB, and an epoch keeps
// two copies): 50 million doubles.
inline constexpr int64_t kMaxParams = 50'000'000;

// A shared state keeps no parameters (they live in the shared segment); inside an epoch its
// `prev` block holds instead, for batched updates (batch > 1), the process's private copy of the
// model as of its last exchange with the shared one (`base`), followed by the copy itself
// (`local`): see igd::exchange.
inline size_t state_bytes(int64_t n_params, int64_t n_scaler, bool with_prev, bool shared) {
    const int64_t stored = shared ? (with_prev ? 2 * n_params : 0) : n_params * (with_prev ? 2 : 1);
    return sizeof(StateHeader) + sizeof(double) * size_t(stored + n_scaler);
}

inline double *state_params(StateHeader *h) {
    return reinterpret_cast<double *>(h + 1);
}
inline const double *state_params(const StateHeader *h) {
    return reinterpret_cast<const double *>(h + 1);
}
inline const double *state_scaler(const StateHeader *h) {
    return h->n_scaler ? state_params(h) + ((h->flags & kShared) ? 0 : h->n_params) : nullptr;
}
inline double *state_prev(StateHeader *h) {
    return state_params(h) + ((h->flags & kShared) ? 0 : h->n_params) + h->n_scaler;
}

// Checks that `len` bytes at `p` are a well-formed state: a state can arrive from a user (text
// input, a hand-written epoch), so nothing in it is trusted before this passes. Returns an empty
// string when valid, otherwise what is wrong.
inline std::string validate_state(const void *p, size_t len) {
    if (len < sizeof(StateHeader)) return "model state is truncated";
    StateHeader h;
    std::memcpy(&h, p, sizeof h);
    if (h.magic != kStateMagic) return "not a bismarck model state (bad magic number)";
    if (h.version != kStateVersion)
        return "model state version " + std::to_string(h.version) + " is not supported";
    if (h.task < 1 || h.task > 3)
        return "model state has an unknown task " + std::to_string(h.task);
    if (h.parallelism > 3) return "model state has an unknown parallelism";
    if (h.n_params < 1 || h.n_params > kMaxParams)
        return "model state has an invalid parameter count";
    if (h.dim < 1 || h.rows < 0 || h.cols < 0) return "model state has an invalid shape";
    if (h.n_scaler != 0 && h.n_scaler != 2 * h.dim) return "model state has an invalid scaler";
    if (h.task == 3) {
        if (h.rows < 1 || h.cols < 1 || h.n_scaler != 0)
            return "model state has an invalid factorization shape";
        const double total = double(h.rows + h.cols) * double(h.dim + 2) + 1.0;
        if (total != double(h.n_params))
            return "model state's parameter count does not match its shape";
    } else if (h.n_params != h.dim + 1) {
        return "model state's parameter count does not match its dimension";
    }
    const bool shared = h.flags & kShared;
    if (len != state_bytes(h.n_params, h.n_scaler, h.flags & kHasPrev, shared))
        return "model state's size does not match its header";
    for (double v : {h.alpha, h.l2, h.l1, h.max_norm})
        if (!std::isfinite(v)) return "model state has a non-finite option";
    if (std::isnan(h.loss_sum)) return "model state has a NaN loss";  // +inf marks divergence
    if (h.alpha <= 0 || h.l2 < 0 || h.l1 < 0 || h.max_norm < 0)
        return "model state has an invalid option";
    if (h.rows_seen < 0 || h.nulls_skipped < 0 || h.batch < 0)
        return "model state has invalid counters";
    return {};
}

}  // namespace bismarck::igd
