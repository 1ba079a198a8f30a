// The layout of a model state: one flat, self-describing block of memory that is at once the
// aggregate's transition state, the value passed from one epoch to the next, the stored model and
// (as hex text) what a distributed engine ships between nodes. PostgreSQL owns the first four
// bytes (the varlena length word); everything else is defined here, free of PostgreSQL.
//
//   [StateHeader][params: n_params doubles][scaler: n_scaler doubles][meta: meta_bytes][work]
//
// The header has two parts: `model`, what a stored model is (its task, shape, training options),
// and `epoch`, what one epoch accumulates (rows, loss, the shared-memory model it steps). The
// blocks after it are the parameters, the feature scaler, `meta` (the class labels and their
// type, the feature names: see Meta below) and `work`, present only inside an epoch: the
// process's scratch doubles (for batched shared-memory updates, its private copy of the model).
//
// Format versions: 1 (bismarck 0.1.0) had one flat header, no meta block and a `prev` block; it
// is read by upgrading it (upgrade_v1), never written.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace bismarck::igd {

enum class Parallelism : uint8_t {
    serial = 0,
    shared_memory = 1,
    shared_memory_locked = 2,
    model_averaging = 3
};

// What a stored model is.
struct ModelInfo {
    uint8_t task;  // models::Task
    uint8_t reserved8[3];
    int32_t outputs;     // linear: rows of the weight matrix (1, or the number of classes)
    int64_t dim;         // linear: number of features; lmf: rank
    int64_t rows, cols;  // lmf: matrix shape (ids are 0 .. rows-1, 0 .. cols-1); linear: 0
    int64_t n_params;
    int64_t n_scaler;                // 0, or 2 * dim (means, then inverse scales)
    int64_t meta_bytes;              // size of the meta block, a multiple of 8
    double alpha, l2, l1, max_norm;  // step size (initial, once trained), regularisers
    uint64_t seed;
    int32_t epochs;               // epochs trained
    int32_t n_class_weights;      // 0, or one weight per class (class_weight => 'balanced')
    double value_min, value_max;  // lmf: range of the training values (predictions are clipped)
    // regressions: the model learns (y - target_mean) / target_scale; prediction undoes it
    double target_mean, target_scale;
};

// What one epoch accumulates (zero in a stored model).
struct EpochInfo {
    uint8_t parallelism;  // Parallelism
    uint8_t flags;        // kShared | option bits
    uint8_t reserved8[2];
    int32_t epoch;           // 0-based epoch this state is used for
    uint64_t shared_handle;  // shared-memory model: the segment and its secret token
    uint64_t shared_token;
    int64_t rows_seen;
    int64_t nulls_skipped;
    double loss_sum;       // progressive loss: each row's loss under the model that steps on it
    int64_t batch;         // shared memory: rows between a process's exchanges with the model
    int64_t participants;  // processes whose partial states were combined into this one
    int64_t n_work;        // doubles in the work block
    int64_t avg_steps;     // averaging: steps averaged before this epoch (see kAveraging)
    int64_t steps;         // kDecayPerRow: steps taken before this epoch, in all epochs
    int64_t step_base;     // shared-memory averaging: the global index of this batch's first step
    int64_t null_elements_skipped;  // kSkipNullElements: rows skipped for a NULL array element
    // Progressive loss still to be added to loss_sum: log(loss_product) (0 or 1: none). A model
    // whose loss has a log(1 + e) term (logistic) hands over 1 + e, and the epoch takes one log
    // of a product of many rows' factors instead of one log1p per row (see epoch_loss_sum).
    double loss_product;
};

// The progressive loss of an epoch's rows so far: loss_sum and the log of the pending product.
inline double epoch_loss_sum(const EpochInfo &e) {
    return e.loss_product > 1.0 ? e.loss_sum + std::log(e.loss_product) : e.loss_sum;
}

// Adds one row's loss factor (see EpochInfo::loss_product): a product of factors in (1, 2] is
// folded into loss_sum before it could overflow.
inline void add_loss_factor(EpochInfo &e, double factor) {
    e.loss_product = (e.loss_product > 1.0 ? e.loss_product : 1.0) * factor;
    if (e.loss_product > 0x1p900) {
        e.loss_sum += std::log(e.loss_product);
        e.loss_product = 1.0;
    }
}

struct StateHeader {
    int32_t varlena_header;  // PostgreSQL's length word; never touched here
    uint32_t magic;
    uint8_t version;
    uint8_t reserved[7];
    ModelInfo model;
    EpochInfo epoch;
};

inline constexpr uint32_t kStateMagic = 0x4B4D5342;  // "BSMK"
inline constexpr uint8_t kStateVersion = 2;
inline constexpr uint8_t kShared = 2;  // params live in a shared segment, not in this block
// The iterates are averaged: the work block starts with the averaging accumulator (n_params
// doubles; see igd::LinearParams::gradient_step), and avg_steps counts the steps before this epoch.
inline constexpr uint8_t kAveraging = 4;
// The step decays row by row: alpha_t = alpha / (1 + alpha l2 t)^0.75 (igd::step_size_per_row).
inline constexpr uint8_t kDecayPerRow = 8;
// Options of one epoch, set by whoever builds the state passed to it:
inline constexpr uint8_t kEvalOnly = 0x10;      // measure the loss, take no step
inline constexpr uint8_t kNoDivergence = 0x20;  // calibration: record divergence, don't raise
inline constexpr uint8_t kNullIsError = 0x40;   // on_null => 'error'
// The training driver's scans of a table in place: a dense feature array holding a NULL element
// makes its row unusable, skipped and counted (null_elements_skipped) rather than an error. The
// scan's WHERE clause then needs no per-row search of the array (which cost 15% of a scan).
inline constexpr uint8_t kSkipNullElements = 0x80;

// A state can hold at most this many parameters (the varlena limit is 1 GB, and an epoch may keep
// two more copies): 50 million doubles.
inline constexpr int64_t kMaxParams = 50'000'000;
inline constexpr int64_t kMaxMetaBytes = 64 << 20;
inline constexpr int64_t kMaxClasses = 1000;

inline size_t state_bytes(const StateHeader &h) {
    const bool shared = h.epoch.flags & kShared;
    const int64_t doubles = (shared ? 0 : h.model.n_params) + h.model.n_scaler +
                            h.model.n_class_weights + h.epoch.n_work;
    return sizeof(StateHeader) + sizeof(double) * size_t(doubles) + size_t(h.model.meta_bytes);
}

inline double *state_params(StateHeader *h) {
    return reinterpret_cast<double *>(h + 1);
}
inline const double *state_params(const StateHeader *h) {
    return reinterpret_cast<const double *>(h + 1);
}
inline const double *state_scaler(const StateHeader *h) {
    return h->model.n_scaler
               ? state_params(h) + ((h->epoch.flags & kShared) ? 0 : h->model.n_params)
               : nullptr;
}
// The weight of each class in the loss (class_weight), after the scaler; null when there is none.
inline const double *state_class_weights(const StateHeader *h) {
    return h->model.n_class_weights
               ? state_params(h) + ((h->epoch.flags & kShared) ? 0 : h->model.n_params) +
                     h->model.n_scaler
               : nullptr;
}
inline const char *state_meta(const StateHeader *h) {
    return reinterpret_cast<const char *>(state_params(h) +
                                          ((h->epoch.flags & kShared) ? 0 : h->model.n_params) +
                                          h->model.n_scaler + h->model.n_class_weights);
}
inline double *state_work(StateHeader *h) {
    return reinterpret_cast<double *>(const_cast<char *>(state_meta(h)) + h->model.meta_bytes);
}

// The meta block: a sequence of sections, each a tag, a count and that many strings (a 4-byte
// length, then the bytes), the whole padded with zeros to a multiple of 8 bytes.
namespace meta {
enum Tag : uint32_t {
    label_type = 1,  // one string: the SQL type of the label ('text', 'integer', 'boolean', ...)
    classes = 2,     // the class labels in their text form, in the order of the model's outputs
    features = 3,    // the feature names, one per input column (or per array element)
    transform = 4,   // how rows are turned into features (issue 11): opaque to the engine
};

struct Section {
    uint32_t tag;
    std::vector<std::string> items;
};

inline std::string encode(const std::vector<Section> &sections) {
    std::string out;
    auto put32 = [&](uint32_t v) { out.append(reinterpret_cast<const char *>(&v), 4); };
    for (const Section &s : sections) {
        put32(s.tag);
        put32(uint32_t(s.items.size()));
        for (const std::string &item : s.items) {
            put32(uint32_t(item.size()));
            out += item;
        }
    }
    out.resize((out.size() + 7) / 8 * 8, '\0');
    return out;
}

// Parses a meta block; returns false (and leaves `out` partial) on anything malformed.
inline bool decode(const char *p, size_t len, std::vector<Section> *out) {
    size_t at = 0;
    auto get32 = [&](uint32_t *v) {
        if (len - at < 4) return false;
        std::memcpy(v, p + at, 4);
        at += 4;
        return true;
    };
    while (at < len) {
        uint32_t tag = 0, n;
        if (len - at >= 4) std::memcpy(&tag, p + at, 4);  // fewer than 4 bytes left: padding
        if (tag == 0) {                                   // padding: the rest must be zeros
            for (size_t k = at; k < len; ++k)
                if (p[k] != 0) return false;
            return true;
        }
        at += 4;
        if (!get32(&n) || n > (len - at) / 4) return false;  // each item takes 4 bytes at least
        Section s{tag, {}};
        s.items.reserve(n);
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t l;
            if (!get32(&l) || l > len - at) return false;
            s.items.emplace_back(p + at, l);
            at += l;
        }
        out->push_back(std::move(s));
    }
    return true;
}

inline const std::vector<std::string> *find(const std::vector<Section> &sections, uint32_t tag) {
    for (const Section &s : sections)
        if (s.tag == tag) return &s.items;
    return nullptr;
}
}  // namespace meta

// The shape rules of each kind of model, given by src/models (checked by validate_state): the
// number of parameters a task has for a shape, or -1 for an unknown task.
using ShapeRule = int64_t (*)(uint8_t task, int32_t outputs, int64_t dim, int64_t rows,
                              int64_t cols);

// Checks that `len` bytes at `p` are a well-formed state: a state can arrive from a user (text
// input, a hand-written epoch, a distributed engine's partial aggregate), so nothing in it is
// trusted before this passes. Returns an empty string when valid, otherwise what is wrong.
inline std::string validate_state(const void *p, size_t len, ShapeRule params_for) {
    if (len < sizeof(StateHeader)) return "model state is truncated";
    StateHeader h;
    std::memcpy(&h, p, sizeof h);
    if (h.magic != kStateMagic) return "not a bismarck model state (bad magic number)";
    if (h.version != kStateVersion)
        return "model state version " + std::to_string(h.version) + " is not supported";
    const ModelInfo &m = h.model;
    const EpochInfo &e = h.epoch;
    if (m.n_params < 1 || m.n_params > kMaxParams)
        return "model state has an invalid parameter count";
    if (m.dim < 1 || m.dim > kMaxParams || m.rows < 0 || m.cols < 0 || m.rows > kMaxParams ||
        m.cols > kMaxParams || m.outputs < 1 || m.outputs > kMaxClasses)
        return "model state has an invalid shape";
    const int64_t expected = params_for(m.task, m.outputs, m.dim, m.rows, m.cols);
    if (expected < 0) return "model state has an unknown task " + std::to_string(m.task);
    if (expected != m.n_params) return "model state's parameter count does not match its shape";
    if (m.n_scaler != 0 && m.n_scaler != 2 * m.dim) return "model state has an invalid scaler";
    if (m.n_class_weights != 0 && m.n_class_weights != (m.outputs == 1 ? 2 : m.outputs))
        return "model state has an invalid number of class weights";
    if (m.meta_bytes < 0 || m.meta_bytes > kMaxMetaBytes || m.meta_bytes % 8 != 0)
        return "model state has an invalid meta block";
    if (e.parallelism > 3) return "model state has an unknown parallelism";
    if (e.n_work < 0 || e.n_work > 3 * m.n_params) return "model state has an invalid work block";
    if (e.steps < 0 || e.step_base < 0 || e.null_elements_skipped < 0)
        return "model state has invalid counters";
    if ((e.flags & kAveraging) &&
        (e.avg_steps < 0 || (!(e.flags & kShared) && e.n_work < m.n_params)))
        return "model state has an invalid averaging block";
    if (len != state_bytes(h)) return "model state's size does not match its header";
    for (double v : {m.alpha, m.l2, m.l1, m.max_norm})
        if (!std::isfinite(v)) return "model state has a non-finite option";
    if (m.alpha <= 0 || m.l2 < 0 || m.l1 < 0 || m.max_norm < 0)
        return "model state has an invalid option";
    if (std::isnan(m.value_min) || std::isnan(m.value_max))
        return "model state has an invalid value range";
    if (!std::isfinite(m.target_mean) || !std::isfinite(m.target_scale) || m.target_scale <= 0)
        return "model state has an invalid target scale";
    if (std::isnan(e.loss_sum)) return "model state has a NaN loss";  // +inf marks divergence
    if (!(e.loss_product == 0.0 || (e.loss_product >= 1.0 && e.loss_product <= 0x1p901)))
        return "model state has an invalid loss product";
    if (e.rows_seen < 0 || e.nulls_skipped < 0 || e.batch < 0 || e.participants < 0 || m.epochs < 0)
        return "model state has invalid counters";
    if (m.n_class_weights) {
        const double *cw = reinterpret_cast<const double *>(reinterpret_cast<const char *>(p) +
                                                            sizeof(StateHeader)) +
                           ((e.flags & kShared) ? 0 : m.n_params) + m.n_scaler;
        for (int32_t c = 0; c < m.n_class_weights; ++c) {
            double w;
            std::memcpy(&w, cw + c, sizeof w);
            if (!(std::isfinite(w) && w > 0.0)) return "model state has an invalid class weight";
        }
    }
    std::vector<meta::Section> sections;
    const char *mp = reinterpret_cast<const char *>(p) + (len - size_t(m.meta_bytes)) -
                     sizeof(double) * size_t(e.n_work);
    if (!meta::decode(mp, size_t(m.meta_bytes), &sections))
        return "model state has a malformed meta block";
    if (const auto *c = meta::find(sections, meta::classes); c && c->size() > size_t(kMaxClasses))
        return "model state has too many classes";
    return {};
}

// bismarck 0.1.0's state (format 1), as far as reading it needs.
struct StateHeaderV1 {
    int32_t varlena_header;
    uint32_t magic;
    uint8_t version, task, parallelism, flags;
    int32_t epoch;
    int64_t dim, rows, cols, n_params, n_scaler;
    double alpha, l2, l1, max_norm;
    uint64_t seed, shared_handle, shared_token;
    int64_t rows_seen, nulls_skipped;
    double loss_sum;
    int64_t batch, participants;
    double scale;
};

// A format-1 state as format 2: the stored model's parameters and scaler, the training options,
// and the class labels `classes` of its label type (0.1.0 kept the negative label outside the
// state, so the caller says what it was). Its epoch part (and any `prev` block) is dropped.
// Returns the new state's bytes (without the varlena header's value), or an error in *why.
inline std::vector<char> upgrade_v1(const void *p, size_t len, const std::string &label_type,
                                    const std::vector<std::string> &classes, std::string *why) {
    std::vector<char> out;
    if (len < sizeof(StateHeaderV1)) {
        *why = "model state is truncated";
        return out;
    }
    StateHeaderV1 v;
    std::memcpy(&v, p, sizeof v);
    if (v.magic != kStateMagic || v.version != 1) {
        *why = "not a bismarck 0.1.0 model state";
        return out;
    }
    const bool shared = v.flags & 2, prev = v.flags & 1;
    const int64_t stored = shared ? (prev ? 2 * v.n_params : 0) : v.n_params * (prev ? 2 : 1);
    if (v.n_params < 1 || v.n_params > kMaxParams || v.n_scaler < 0 || v.n_scaler > kMaxParams ||
        shared || len != sizeof(StateHeaderV1) + sizeof(double) * size_t(stored + v.n_scaler) ||
        v.task < 1 || v.task > 3) {
        *why = "malformed bismarck 0.1.0 model state";
        return out;
    }
    std::vector<meta::Section> sections;
    if (v.task != 3) {  // linear classifiers: logistic (1) and svm (2)
        sections.push_back({meta::label_type, {label_type}});
        sections.push_back({meta::classes, classes});
    }
    const std::string m = meta::encode(sections);
    StateHeader h{};
    h.magic = kStateMagic;
    h.version = kStateVersion;
    h.model.task = v.task;
    h.model.outputs = 1;
    h.model.dim = v.dim;
    h.model.rows = v.rows;
    h.model.cols = v.cols;
    h.model.n_params = v.n_params;
    h.model.n_scaler = v.n_scaler;
    h.model.meta_bytes = int64_t(m.size());
    h.model.alpha = v.alpha;
    h.model.l2 = v.l2;
    h.model.l1 = v.l1;
    h.model.max_norm = v.max_norm;
    h.model.seed = v.seed;
    h.model.epochs = v.epoch;
    h.model.value_min = -INFINITY;
    h.model.value_max = INFINITY;
    h.model.target_scale = 1.0;
    out.resize(state_bytes(h));
    std::memcpy(out.data(), &h, sizeof h);
    const char *body = reinterpret_cast<const char *>(p) + sizeof(StateHeaderV1);
    // 0.1.0's layout: params, scaler, then prev (dropped)
    std::memcpy(out.data() + sizeof h, body, sizeof(double) * size_t(v.n_params + v.n_scaler));
    std::memcpy(out.data() + sizeof h + sizeof(double) * size_t(v.n_params + v.n_scaler), m.data(),
                m.size());
    return out;
}

}  // namespace bismarck::igd
