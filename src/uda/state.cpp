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

static void check_valid(const void *p, size_t len) {
    const std::string why = igd::validate_state(p, len);
    if (!why.empty())
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid bismarck.model_state: " + why);
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
    check_valid(v, VARSIZE(v));
    return reinterpret_cast<const StateHeader *>(v);
}

StateHeader *new_state(models::Task task, int64_t dim, int64_t rows, int64_t cols, int64_t n_params,
                       int64_t n_scaler, bool with_prev, bool shared) {
    if (n_params > igd::kMaxParams)
        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
             "model would have " + std::to_string(n_params) + " parameters",
             "A model may have at most " + std::to_string(igd::kMaxParams) + " parameters.");
    const size_t bytes = igd::state_bytes(n_params, n_scaler, with_prev, shared);
    auto *h = static_cast<StateHeader *>(palloc0(bytes));
    SET_VARSIZE(h, bytes);
    h->magic = igd::kStateMagic;
    h->version = igd::kStateVersion;
    h->task = uint8_t(task);
    h->flags = (with_prev ? igd::kHasPrev : 0) | (shared ? igd::kShared : 0);
    h->dim = dim;
    h->rows = rows;
    h->cols = cols;
    h->n_params = n_params;
    h->n_scaler = n_scaler;
    h->alpha = 0.1;
    return h;
}

StateHeader *copy_state(const StateHeader *h, bool with_prev) {
    const bool shared = h->flags & igd::kShared;
    StateHeader *c = new_state(task_of(h), h->dim, h->rows, h->cols, h->n_params, h->n_scaler,
                               with_prev, shared);
    const uint8_t flags = c->flags;
    memcpy(reinterpret_cast<char *>(c) + VARHDRSZ, reinterpret_cast<const char *>(h) + VARHDRSZ,
           sizeof(StateHeader) - VARHDRSZ);
    // keep the option bits (eval-only, divergence, NULL handling); set the layout bits anew
    c->flags = flags | (h->flags & ~(igd::kHasPrev | igd::kShared));
    const int64_t body = (shared ? 0 : h->n_params) + h->n_scaler;
    memcpy(igd::state_params(c), igd::state_params(h), sizeof(double) * body);
    if (with_prev && !shared) {
        memcpy(igd::state_prev(c), igd::state_params(h), sizeof(double) * h->n_params);
    }
    return c;
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
    check_valid(buf, len);
    PG_RETURN_POINTER(buf);
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
    check_valid(buf, n + VARHDRSZ);
    PG_RETURN_POINTER(buf);
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

// logistic_init / svm_init(dim, step_size, l2, l1): a zero model of that dimension.
BISMARCK_FUNCTION(bismarck_linear_init) {
    const char *fname = get_func_name(fcinfo->flinfo->fn_oid);
    const auto task = std::string(fname ? fname : "") == "svm_init"
                          ? bismarck::models::Task::svm
                          : bismarck::models::Task::logistic;
    const int32 dim = PG_GETARG_INT32(0);
    if (dim < 1 || dim > 10'000'000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "dim must be between 1 and 10000000, not " + std::to_string(dim));
    StateHeader *h = new_state(task, dim, 0, 0, dim + 1, 0, false, false);
    h->alpha = positive(PG_GETARG_FLOAT8(1), "step_size");
    h->l2 = non_negative(PG_GETARG_FLOAT8(2), "l2");
    h->l1 = non_negative(PG_GETARG_FLOAT8(3), "l1");
    PG_RETURN_POINTER(h);
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
    StateHeader *h =
        new_state(bismarck::models::Task::lmf, rank, rows, cols, s.size(), 0, false, false);
    h->alpha = positive(PG_GETARG_FLOAT8(3), "step_size");
    h->l2 = non_negative(PG_GETARG_FLOAT8(4), "l2");
    const double mean = PG_GETARG_FLOAT8(5);
    if (!std::isfinite(mean)) fail(ERRCODE_INVALID_PARAMETER_VALUE, "mean must be finite");
    bismarck::models::Lmf::initialise(bismarck::igd::state_params(h), s, mean,
                                      uint64_t(PG_GETARG_INT64(6)));
    PG_RETURN_POINTER(h);
}

BISMARCK_FUNCTION(bismarck_with_step_size) {
    StateHeader *h = copy_state(read_state(PG_GETARG_DATUM(0)), false);
    h->alpha = positive(PG_GETARG_FLOAT8(1), "step_size");
    PG_RETURN_POINTER(h);
}

BISMARCK_FUNCTION(bismarck_epoch_loss) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (h->rows_seen == 0) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(h->loss_sum / double(h->rows_seen));
}

BISMARCK_FUNCTION(bismarck_epoch_rows) {
    PG_RETURN_INT64(read_state(PG_GETARG_DATUM(0))->rows_seen);
}

// The weights of a linear model in the units of the raw features (scaler folded in).
BISMARCK_FUNCTION(bismarck_coefficients) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (!bismarck::models::is_linear(task_of(h)) || (h->flags & bismarck::igd::kShared))
        PG_RETURN_NULL();
    const int64_t d = h->dim;
    const double *p = bismarck::igd::state_params(h), *sc = bismarck::igd::state_scaler(h);
    Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * d));
    for (int64_t j = 0; j < d; ++j) elems[j] = Float8GetDatum(sc ? p[j] * sc[d + j] : p[j]);
    PG_RETURN_ARRAYTYPE_P(
        construct_array(elems, int(d), FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

BISMARCK_FUNCTION(bismarck_intercept) {
    const StateHeader *h = read_state(PG_GETARG_DATUM(0));
    if (!bismarck::models::is_linear(task_of(h)) || (h->flags & bismarck::igd::kShared))
        PG_RETURN_NULL();
    const int64_t d = h->dim;
    const double *p = bismarck::igd::state_params(h), *sc = bismarck::igd::state_scaler(h);
    double b = p[d];
    if (sc)
        for (int64_t j = 0; j < d; ++j) b -= p[j] * sc[d + j] * sc[j];
    PG_RETURN_FLOAT8(b);
}
