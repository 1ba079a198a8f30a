// bismarck.model_state: input/output (exact hex text, so a distributed engine that ships partial
// aggregate states as text gets them back bit for bit), binary send/receive, and validation.
#include "uda/state.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
}

#include <cstring>

namespace bismarck::uda {

void check_state(const void *p, size_t len) {
    const std::string why = igd::validate_state(p, len, models::params_for);
    if (!why.empty())
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid bismarck.model_state: " + why);
}

// A bismarck 0.1.0 state, upgraded to the current format in the current memory context.
static StateHeader *upgrade(const struct varlena *v) {
    std::string why;
    const std::vector<char> bytes = igd::upgrade_v1(v, VARSIZE(v), "integer", {"0", "1"}, &why);
    if (bytes.empty())
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid bismarck.model_state: " + why);
    auto *h = static_cast<StateHeader *>(palloc(bytes.size()));
    memcpy(h, bytes.data(), bytes.size());
    SET_VARSIZE(h, bytes.size());
    return h;
}

const StateHeader *read_state(Datum d) {
    struct varlena *v = PG_DETOAST_DATUM(d);
    if (VARATT_IS_SHORT(v) || (reinterpret_cast<uintptr_t>(v) % alignof(double)) != 0) {
        // A short header or an unaligned copy: make an aligned 4-byte-header copy.
        const size_t len = VARSIZE_ANY_EXHDR(v);
        struct varlena *c = static_cast<struct varlena *>(palloc(len + VARHDRSZ));
        SET_VARSIZE(c, len + VARHDRSZ);
        memcpy(VARDATA(c), VARDATA_ANY(v), len);
        v = c;
    }
    if (VARSIZE(v) >= 9 && reinterpret_cast<const uint8_t *>(v)[8] == 1)
        v = (struct varlena *)upgrade(v);
    check_state(v, VARSIZE(v));
    return reinterpret_cast<const StateHeader *>(v);
}

StateHeader *new_state(const igd::ModelInfo &model, const std::string &meta, int64_t n_work,
                       bool shared) {
    if (model.n_params > igd::kMaxParams)
        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
             "model would have " + std::to_string(model.n_params) + " parameters",
             "A model may have at most " + std::to_string(igd::kMaxParams) + " parameters.");
    if (int64_t(meta.size()) > igd::kMaxMetaBytes)
        fail(
            ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            "model's class labels and feature names take " + std::to_string(meta.size()) + " bytes",
            "They may take at most " + std::to_string(igd::kMaxMetaBytes) + " bytes.");
    StateHeader h{};
    h.magic = igd::kStateMagic;
    h.version = igd::kStateVersion;
    h.model = model;
    h.model.meta_bytes = int64_t(meta.size());
    h.epoch.n_work = n_work;
    h.epoch.flags = shared ? igd::kShared : 0;
    const size_t bytes = igd::state_bytes(h);
    auto *s = static_cast<StateHeader *>(palloc0(bytes));
    memcpy(s, &h, sizeof h);
    SET_VARSIZE(s, bytes);
    memcpy(const_cast<char *>(igd::state_meta(s)), meta.data(), meta.size());
    return s;
}

StateHeader *copy_state(const StateHeader *h, int64_t n_work, bool shared) {
    StateHeader head = *h;
    head.epoch.n_work = n_work;
    head.epoch.flags = (h->epoch.flags & ~igd::kShared) | (shared ? igd::kShared : 0);
    const size_t bytes = igd::state_bytes(head);
    auto *c = static_cast<StateHeader *>(palloc0(bytes));
    memcpy(c, &head, sizeof head);
    SET_VARSIZE(c, bytes);
    const bool from_shared = h->epoch.flags & igd::kShared;
    if (!shared && !from_shared)
        memcpy(igd::state_params(c), igd::state_params(h), sizeof(double) * h->model.n_params);
    if (h->model.n_scaler)
        memcpy(const_cast<double *>(igd::state_scaler(c)), igd::state_scaler(h),
               sizeof(double) * h->model.n_scaler);
    if (h->model.n_class_weights)
        memcpy(const_cast<double *>(igd::state_class_weights(c)), igd::state_class_weights(h),
               sizeof(double) * h->model.n_class_weights);
    memcpy(const_cast<char *>(igd::state_meta(c)), igd::state_meta(h), h->model.meta_bytes);
    return c;
}

std::vector<igd::meta::Section> meta_of(const StateHeader *h) {
    std::vector<igd::meta::Section> sections;
    igd::meta::decode(igd::state_meta(h), size_t(h->model.meta_bytes), &sections);
    return sections;
}

}  // namespace bismarck::uda

using namespace bismarck::uda;

// Text form: lower-case hex of every byte after the length word.
BISMARCK_FUNCTION(bismarck_state_in) {
    const char *s = PG_GETARG_CSTRING(0);
    const size_t n = strlen(s);
    if (n % 2 != 0 || n / 2 < sizeof(StateHeader) - VARHDRSZ || n / 2 > (size_t(1) << 29))
        fail(ERRCODE_INVALID_TEXT_REPRESENTATION,
             "invalid input syntax for type bismarck.model_state",
             "A model state is the hex text that bismarck.model_state's output produces.");
    const size_t len = n / 2 + VARHDRSZ;
    char *buf = static_cast<char *>(palloc(len));
    SET_VARSIZE(buf, len);
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < n / 2; ++i) {
        const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            fail(ERRCODE_INVALID_TEXT_REPRESENTATION,
                 "invalid hexadecimal digit in bismarck.model_state at position " +
                     std::to_string(2 * i + 1 + (hi >= 0)));
        buf[VARHDRSZ + i] = char(hi << 4 | lo);
    }
    PG_RETURN_POINTER(read_state(PointerGetDatum(buf)));
}

BISMARCK_FUNCTION(bismarck_state_out) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    const size_t n = VARSIZE(h) - VARHDRSZ;
    const auto *bytes = reinterpret_cast<const unsigned char *>(h) + VARHDRSZ;
    char *out = static_cast<char *>(palloc(2 * n + 1));
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
    PG_RETURN_CSTRING(out);
}

BISMARCK_FUNCTION(bismarck_state_recv) {
    StringInfo in = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
    const int n = in->len - in->cursor;
    if (n < 0 || size_t(n) < sizeof(StateHeader) - VARHDRSZ)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "bismarck.model_state is truncated");
    char *buf = static_cast<char *>(palloc(n + VARHDRSZ));
    SET_VARSIZE(buf, n + VARHDRSZ);
    pq_copymsgbytes(in, buf + VARHDRSZ, n);
    PG_RETURN_POINTER(read_state(PointerGetDatum(buf)));
}

BISMARCK_FUNCTION(bismarck_state_send) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    StringInfoData buf;
    pq_begintypsend(&buf);
    pq_sendbytes(&buf, reinterpret_cast<const char *>(h) + VARHDRSZ, VARSIZE(h) - VARHDRSZ);
    PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

// ---- starting states for hand-written epochs, and what a state tells -------------------------

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
}

static double positive(double v, const char *name) {
    if (!std::isfinite(v) || v <= 0.0)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be positive");
    return v;
}
static double non_negative(double v, const char *name) {
    if (!std::isfinite(v) || v < 0.0)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must not be negative");
    return v;
}

namespace {

using bismarck::models::Task;
using bismarck::uda::fail;

// <trainer>_init(dim, step_size, l2, l1, classes): a zero linear model of that dimension, for
// hand-written epochs. Classifiers take labels 0 .. classes-1 (two classes: also -1 and 1).
Datum linear_init(FunctionCallInfo fcinfo, const char *trainer) {
    const int32 dim = PG_GETARG_INT32(0);
    if (dim < 1 || dim > 10'000'000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "dim must be between 1 and 10000000, not " + std::to_string(dim));
    const bool classifier =
        bismarck::models::trainer_target(trainer) != bismarck::models::Target::real;
    const int32 classes = classifier ? PG_GETARG_INT32(4) : 0;
    if (classifier && (classes < 2 || classes > bismarck::igd::kMaxClasses))
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "classes must be between 2 and " +
                                                  std::to_string(bismarck::igd::kMaxClasses) +
                                                  ", not " + std::to_string(classes));
    Task task{};
    bismarck::models::linear_task_for(trainer, classes, &task);
    bismarck::igd::ModelInfo m{};
    m.task = uint8_t(task);
    m.dim = dim;
    m.outputs = bismarck::models::with_linear_model(
        task, [&](auto model) { return decltype(model)::outputs(classes); });
    m.n_params = bismarck::models::linear_params(m.outputs, dim);
    m.alpha = positive(PG_GETARG_FLOAT8(1), "step_size");
    m.l2 = non_negative(PG_GETARG_FLOAT8(2), "l2");
    m.l1 = non_negative(PG_GETARG_FLOAT8(3), "l1");
    m.value_min = -INFINITY;
    m.value_max = INFINITY;
    m.target_scale = 1.0;
    std::vector<bismarck::igd::meta::Section> meta;
    if (classifier) {
        meta.push_back({bismarck::igd::meta::label_type, {"integer"}});
        meta.push_back({bismarck::igd::meta::classes, {}});
        for (int32 c = 0; c < classes; ++c) meta.back().items.push_back(std::to_string(c));
    }
    PG_RETURN_POINTER(new_state(m, bismarck::igd::meta::encode(meta)));
}

}  // namespace

BISMARCK_FUNCTION(bismarck_logistic_init) {
    return linear_init(fcinfo, "logistic");
}
BISMARCK_FUNCTION(bismarck_svm_init) {
    return linear_init(fcinfo, "svm");
}
BISMARCK_FUNCTION(bismarck_linear_regression_init) {
    return linear_init(fcinfo, "linear_regression");
}

// lmf_init(n_rows, n_cols, rank, step_size, l2, mean, seed): small random factors.
BISMARCK_FUNCTION(bismarck_lmf_init) {
    const int64 rows = PG_GETARG_INT64(0), cols = PG_GETARG_INT64(1);
    const int32 rank = PG_GETARG_INT32(2);
    if (rank < 1 || rank > 1000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "rank must be between 1 and 1000, not " + std::to_string(rank));
    if (rows < 1 || cols < 1 || rows > bismarck::igd::kMaxParams ||
        cols > bismarck::igd::kMaxParams ||
        (rows + cols) * (rank + 2) + 1 > bismarck::igd::kMaxParams)
        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
             "a " + std::to_string(rows) + " x " + std::to_string(cols) + " rank " +
                 std::to_string(rank) + " model is too large",
             "A model may have at most " + std::to_string(bismarck::igd::kMaxParams) +
                 " parameters.");
    const bismarck::models::Lmf::Shape s{rows, cols, rank};
    bismarck::igd::ModelInfo m{};
    m.task = uint8_t(Task::lmf);
    m.outputs = 1;
    m.dim = rank;
    m.rows = rows;
    m.cols = cols;
    m.n_params = s.size();
    m.alpha = positive(PG_GETARG_FLOAT8(3), "step_size");
    m.l2 = non_negative(PG_GETARG_FLOAT8(4), "l2");
    m.value_min = -INFINITY;
    m.value_max = INFINITY;
    m.target_scale = 1.0;
    const double mean = PG_GETARG_FLOAT8(5);
    if (!std::isfinite(mean)) fail(ERRCODE_INVALID_PARAMETER_VALUE, "mean must be finite");
    StateHeader *h = new_state(m, bismarck::igd::meta::encode({}));
    bismarck::models::Lmf::initialise(bismarck::igd::state_params(h), s, mean,
                                      uint64_t(PG_GETARG_INT64(6)));
    PG_RETURN_POINTER(h);
}

BISMARCK_FUNCTION(bismarck_with_step_size) {
    const StateHeader *in = read_state(PG_GETARG_DATUM(0));
    if (in->epoch.flags & bismarck::igd::kShared)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model state holds no parameters (it belongs to a shared-memory epoch in progress)");
    StateHeader *h = copy_state(in, 0, false);
    h->model.alpha = positive(PG_GETARG_FLOAT8(1), "step_size");
    PG_RETURN_POINTER(h);
}

BISMARCK_FUNCTION(bismarck_epoch_loss) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (h->epoch.rows_seen == 0) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(bismarck::igd::epoch_loss_sum(h->epoch) / double(h->epoch.rows_seen));
}

BISMARCK_FUNCTION(bismarck_epoch_rows) {
    PG_RETURN_INT64(read_state(PG_GETARG_DATUM(0))->epoch.rows_seen);
}

// The weights of a linear model in the units of the raw features (scaler folded in): one array
// for one output, a classes x features array for multiclass models.
BISMARCK_FUNCTION(bismarck_coefficients) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (!bismarck::models::is_linear(task_of(h)) || (h->epoch.flags & bismarck::igd::kShared))
        PG_RETURN_NULL();
    const int64_t d = h->model.dim;
    const int32_t k = h->model.outputs;
    std::vector<double> w(size_t(h->model.n_params));
    bismarck::models::fold_scaler(bismarck::igd::state_params(h), k, d,
                                  bismarck::igd::state_scaler(h), w.data(), h->model.target_mean,
                                  h->model.target_scale);
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * d * k));
    for (int32_t c = 0; c < k; ++c)
        for (int64_t j = 0; j < d; ++j) elems[c * d + j] = Float8GetDatum(w[c * (d + 1) + j]);
    int dims[2] = {k, int(d)}, lbs[2] = {1, 1};
    ArrayType *a = nullptr;
    bismarck::uda::pg_call([&] {
        a = k == 1 ? construct_array(elems, int(d), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)
                   : construct_md_array(elems, nullptr, 2, dims, lbs, FLOAT8OID, 8, FLOAT8PASSBYVAL,
                                        TYPALIGN_DOUBLE);
    });
    PG_RETURN_ARRAYTYPE_P(a);
}

// The intercept of a one-output linear model in raw units (NULL for multiclass models).
BISMARCK_FUNCTION(bismarck_intercept) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (!bismarck::models::is_linear(task_of(h)) || (h->epoch.flags & bismarck::igd::kShared) ||
        h->model.outputs != 1)
        PG_RETURN_NULL();
    const int64_t d = h->model.dim;
    std::vector<double> w(size_t(d + 1));
    bismarck::models::fold_scaler(bismarck::igd::state_params(h), 1, d,
                                  bismarck::igd::state_scaler(h), w.data(), h->model.target_mean,
                                  h->model.target_scale);
    PG_RETURN_FLOAT8(w[d]);
}

// upgrade_state(state, negative_label) -> the state in the current format. bismarck 0.1.0 kept
// a two-class model's negative label (0 or -1) in the catalog, not in the state: the update
// script passes it from there; for a 0.1.0 state kept elsewhere the caller says what it was.
// A state already in the current format is returned as it is.
BISMARCK_FUNCTION(bismarck_upgrade_state) {
    struct varlena *v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
    if (VARATT_IS_SHORT(v) || VARSIZE(v) < 9 || reinterpret_cast<const uint8_t *>(v)[8] != 1)
        PG_RETURN_POINTER(read_state(PointerGetDatum(v)));
    const int32 negative = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
    if (negative != 0 && negative != -1)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "negative_label must be 0 or -1, not " + std::to_string(negative));
    std::string why;
    const std::vector<char> bytes =
        bismarck::igd::upgrade_v1(v, VARSIZE(v), "integer", {std::to_string(negative), "1"}, &why);
    if (bytes.empty())
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid bismarck.model_state: " + why);
    auto *h = static_cast<StateHeader *>(palloc(bytes.size()));
    memcpy(h, bytes.data(), bytes.size());
    SET_VARSIZE(h, bytes.size());
    check_state(h, bytes.size());
    PG_RETURN_POINTER(h);
}
