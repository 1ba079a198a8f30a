// The epoch aggregates: one call of bismarck.logistic_epoch / svm_epoch /
// linear_regression_epoch / lmf_epoch over a table is one epoch of incremental gradient descent.
//
//   transition  first row: copy the model passed as the last argument into the aggregate's
//               memory (or attach the shared-memory model); every row: add the row's loss under
//               the current model (the progressive loss) and take one gradient step.
//   combine     model averaging: the per-worker models, averaged weighted by rows seen (the form
//               a distributed engine runs); shared memory: the counters are summed.
//
// The state is updated in place once AggCheckCallContext confirms an aggregate call, so the
// executor never copies it; nothing is allocated per row. Nothing here knows a model: the step
// is the model's, reached through the registry from the task the state carries.
//
// Who calls these functions is not trusted. Besides bismarck's own aggregates, a distributed
// engine calls them from its own wrapper aggregates (Citus's worker_partial_agg and
// coord_combine_agg), and a user can declare an aggregate around them with any initial state.
// So every state a step or combine function receives is validated before use, once per state
// (a state this call site made or already checked, updated in place row after row, is not
// checked again).
#include "uda/citus.hpp"
#include "uda/prefetch.hpp"
#include "uda/progress.hpp"
#include "uda/shared_model.hpp"
#include "uda/sparsevec.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/parallel.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

namespace bismarck::uda {
namespace {

using igd::DenseRow;
using igd::LinearParams;
using igd::PlainAccess;
using igd::RelaxedAccess;
using igd::SparseRow;
using models::Target;

using igd::kEvalOnly;
using igd::kNoDivergence;
using igd::kNullIsError;

// Per call site (fn_extra): the last state this call site made or validated, and a scratch
// buffer for one standardised row and the scores of a row.
struct CallSite {
    const void *trusted;
    double *buffer;
    int64_t capacity;
    Oid feature_type;         // the features argument's type at this call site, once known
    igd::PerRowSteps *steps;  // kDecayPerRow: the steps of the next rows
};

CallSite *call_site(FunctionCallInfo fcinfo) {
    auto *site = static_cast<CallSite *>(fcinfo->flinfo->fn_extra);
    if (site == nullptr) {
        pg_call([&] {
            site = static_cast<CallSite *>(
                MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CallSite)));
        });
        fcinfo->flinfo->fn_extra = site;
    }
    return site;
}

double *scratch(FunctionCallInfo fcinfo, CallSite *site, int64_t n) {
    if (n > site->capacity) {
        pg_call([&] {
            double *b = static_cast<double *>(
                MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(double) * size_t(n)));
            if (site->buffer) pfree(site->buffer);
            site->buffer = b;
        });
        site->capacity = n;
    }
    return site->buffer;
}

MemoryContext aggregate_context(FunctionCallInfo fcinfo, const char *name) {
    MemoryContext context = nullptr;
    if (AggCheckCallContext(fcinfo, &context) == 0)
        fail(ERRCODE_FEATURE_NOT_SUPPORTED, std::string(name) + " must be called as an aggregate");
    return context;
}

// A state argument of a step or combine function, validated unless this call site made it or
// checked it already. It is updated in place, as aggregate states are.
StateHeader *trusted_state(FunctionCallInfo fcinfo, CallSite *site, int arg) {
    Datum d = PG_GETARG_DATUM(arg);
    if (DatumGetPointer(d) == site->trusted)
        return reinterpret_cast<StateHeader *>(DatumGetPointer(d));
    // From elsewhere (a user's initial state, a distributed engine's partial state): check it.
    // read_state returns the same pointer for an aligned, plain value, else a checked copy,
    // which the executor then keeps in its place (and which is checked once more there).
    auto *h = const_cast<StateHeader *>(read_state(d));
    site->trusted = h;
    return h;
}

// Where this process reads and writes the model during the epoch.
struct Model {
    double *params;
    SharedSegment *shared;  // null unless parallelism is shared memory
};

Model locate(StateHeader *h) {
    if (h->epoch.flags & igd::kShared) {
        SharedSegment *s =
            shared_attach(h->epoch.shared_handle, h->epoch.shared_token, h->model.n_params);
        return {segment_params(s), s};
    }
    return {igd::state_params(h), nullptr};
}

// The first row of an epoch: the model argument becomes this aggregate's state.
StateHeader *begin_epoch(FunctionCallInfo fcinfo, CallSite *site, int model_arg,
                         MemoryContext context, const char *trainer) {
    if (PG_ARGISNULL(model_arg))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "the model state argument of an epoch is NULL", {},
             "Start from bismarck." + std::string(trainer) + "_init() or a trained model.");
    const StateHeader *in = read_state(PG_GETARG_DATUM(model_arg));
    const std::string_view task_trainer = models::trainer_of(task_of(in));
    if (task_trainer != trainer)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "this epoch aggregate cannot train a model state of task " +
                 std::string(models::task_name(task_of(in))),
             {}, "Use bismarck." + std::string(task_trainer) + "_epoch for this state.");
    const bool shared = in->epoch.flags & igd::kShared;
    const auto par = igd::Parallelism(in->epoch.parallelism);
    if ((par == igd::Parallelism::shared_memory || par == igd::Parallelism::shared_memory_locked) &&
        !shared)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model state asks for shared-memory parallelism but has no shared-memory model", {},
             "Only bismarck's training functions run shared-memory epochs.");
    // Batched shared memory: the work block holds this process's private copy of the model as
    // of its last exchange (`base`) and the copy itself (`local`): see igd::exchange.
    const bool batched = shared && models::is_linear(task_of(in)) && in->epoch.batch > 1;
    // Averaging: the work block starts with the accumulator (igd::LinearParams::gradient_step).
    // Serial and model averaging carry it from epoch to epoch in the state; in shared memory each
    // process accumulates its own updates of this epoch, the combine function sums them and the
    // driver keeps the total.
    const bool averaging = in->epoch.flags & igd::kAveraging;
    const int64_t n = in->model.n_params;
    const int64_t avg = averaging ? n : 0;
    MemoryContext old = MemoryContextSwitchTo(context);
    StateHeader *h = copy_state(in, avg + (batched ? 2 * n : 0), shared);
    MemoryContextSwitchTo(old);
    if (averaging && !shared)
        memcpy(igd::state_work(h), igd::state_work(const_cast<StateHeader *>(in)),
               sizeof(double) * n);
    h->epoch.rows_seen = 0;
    h->epoch.nulls_skipped = 0;
    h->epoch.null_elements_skipped = 0;
    h->epoch.loss_sum = 0.0;
    h->epoch.loss_product = 0.0;
    h->epoch.participants = IsParallelWorker() ? 1 : 0;  // combined: how many workers saw rows
    locate(h);  // attach the shared model now, so a bad handle fails on the first row
    site->trusted = h;
    return h;
}

// The state of this row: a new epoch's (first row) or the running one.
StateHeader *running_state(FunctionCallInfo fcinfo, int model_arg, const char *trainer) {
    CallSite *site = call_site(fcinfo);
    // Every row after the first: the state this call site made or checked (and updates in
    // place); the checks below ran when it became so, not again per row. (Only an aggregate's
    // call site makes a state, and a call site's state is never another call's argument.)
    if (!PG_ARGISNULL(0) && DatumGetPointer(PG_GETARG_DATUM(0)) == site->trusted)
        return reinterpret_cast<StateHeader *>(DatumGetPointer(PG_GETARG_DATUM(0)));
    MemoryContext context = aggregate_context(fcinfo, "an epoch");
    if (PG_ARGISNULL(0)) return begin_epoch(fcinfo, site, model_arg, context, trainer);
    StateHeader *h = trusted_state(fcinfo, site, 0);
    // A running state's work block is what its flags need (begin_epoch makes it so; a state from
    // elsewhere may not be).
    const int64_t n = h->model.n_params;
    const bool averaging = h->epoch.flags & igd::kAveraging;
    const bool batched =
        (h->epoch.flags & igd::kShared) && models::is_linear(task_of(h)) && h->epoch.batch > 1;
    if (h->epoch.n_work < (averaging ? n : 0) + (batched ? 2 * n : 0))
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "the aggregate's state has no room for its epoch", {},
             "Start an epoch from a model state, not from a running epoch's state.");
    if (models::trainer_of(task_of(h)) != trainer)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "the aggregate's state is not a " + std::string(trainer) + " model state");
    return h;
}

// Where in the scan an error happened, for its DETAIL.
std::string row_detail(const StateHeader *h) {
    return "Row " + std::to_string(h->epoch.rows_seen + h->epoch.nulls_skipped + 1) +
           " of this epoch's scan.";
}

std::string number_text(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

// The error of a label encode_label refuses (out of line: the per-row path stays small).
[[noreturn, gnu::cold, gnu::noinline]] void bad_label(double y, const StateHeader *h) {
    switch (models::target_of(task_of(h))) {
        case Target::binary:
            fail(ERRCODE_DATA_EXCEPTION, "label " + number_text(y) + " is not a class label",
                 row_detail(h), "Labels of a two-class model are 0 or 1, or -1 or 1.");
        case Target::classes:
            fail(ERRCODE_DATA_EXCEPTION, "label " + number_text(y) + " is not a class index",
                 row_detail(h),
                 "Labels of this model are class indices 0 to " +
                     std::to_string(h->model.outputs - 1) + ".");
        default:
            fail(ERRCODE_DATA_EXCEPTION, "label is NaN or infinite", row_detail(h));
    }
}

// The label as the model's loss takes it: -1/+1 for two classes, the class index for more, the
// value itself for a regression.
inline double encode_label(double y, const StateHeader *h) {
    switch (models::target_of(task_of(h))) {
        case Target::binary:
            if (y == 1.0) return 1.0;
            if (y == 0.0 || y == -1.0) return -1.0;
            break;
        case Target::classes:
            if (y >= 0.0 && y < double(h->model.outputs) && y == std::floor(y)) return y;
            break;
        default:
            if (std::isfinite(y)) return y;
    }
    bad_label(y, h);
}

std::string short_number(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

[[noreturn]] void diverged(const StateHeader *h) {
    throw igd::Error(igd::Error::Kind::diverged,
                     "training diverged: the loss became infinite or NaN at row " +
                         std::to_string(h->epoch.rows_seen + h->epoch.nulls_skipped + 1) +
                         " of epoch " + std::to_string(h->epoch.epoch + 1) + " (step size " +
                         short_number(h->model.alpha) + ")");
}

// Adds a row's loss (and its loss factor, see igd::EpochInfo::loss_product) to the epoch, or
// stops a diverging run within the epoch.
void account(StateHeader *h, double loss, bool finite_model, double factor = 1.0) {
    if (!std::isfinite(loss) || !finite_model) {
        if (!(h->epoch.flags & kNoDivergence)) diverged(h);
        h->epoch.loss_sum = INFINITY;
    } else if (std::isfinite(h->epoch.loss_sum)) {
        h->epoch.loss_sum += loss;
        if (factor != 1.0) igd::add_loss_factor(h->epoch, factor);
    }
    h->epoch.rows_seen++;
    progress::add_rows(1);
}

// One row of a linear model, on whichever row type and access policy.
template <class Row>
void linear_row(StateHeader *h, const Row &x, double y, double *scores, CallSite *site) {
    const Model m = locate(h);
    const int64_t d = h->model.dim;
    const int32_t k = h->model.outputs;
    const int64_t n = h->model.n_params;
    const double alpha = (h->epoch.flags & igd::kDecayPerRow)
                             ? site->steps->at(h->model.alpha, h->model.l2,
                                               double(h->epoch.steps + h->epoch.rows_seen))
                             : h->model.alpha;
    const igd::StepParams s{alpha, h->model.l2, h->model.l1, 0.0};
    const bool eval_only = h->epoch.flags & kEvalOnly;
    const double *current = m.params;  // where this row's step went
    // class_weight: the weight of the row's class (binary labels are -1/+1: classes 0 and 1)
    const double *cw = igd::state_class_weights(h);
    const double weight = cw ? cw[k == 1 ? (y > 0.0 ? 1 : 0) : int32_t(y)] : 1.0;
    double factor = 1.0;  // the serial step's loss factor (the hot path; elsewhere 1)
    const double loss = models::with_linear_model(task_of(h), [&](auto model) {
        using M = decltype(model);
        if (eval_only)
            return weight *
                   igd::linear_loss<M>(LinearParams<RelaxedAccess>{m.params, d, k}, x, y, scores);
        // averaging: this process's accumulator, and the global index of this step (in shared
        // memory, taken from the segment's counter: one atomic add per row, or per batch)
        const bool averaging = h->epoch.flags & igd::kAveraging;
        double *acc = averaging ? igd::state_work(h) : nullptr;
        auto step_index = [&](int64_t take) {
            const int64_t in_batch = h->epoch.rows_seen % take;
            if (in_batch == 0)
                h->epoch.step_base = std::atomic_ref<int64_t>(m.shared->steps)
                                         .fetch_add(take, std::memory_order_relaxed);
            return double(h->epoch.step_base + in_batch);
        };
        switch (igd::Parallelism(h->epoch.parallelism)) {
            case igd::Parallelism::shared_memory: {
                if (h->epoch.batch <= 1)
                    return igd::linear_step<M>(LinearParams<RelaxedAccess>{m.params, d, k}, x, y, s,
                                               scores, acc, averaging ? step_index(1) : 0.0,
                                               weight);
                // Batched: plain steps on this process's copy, exchanged every `batch` rows.
                const double t = averaging ? step_index(h->epoch.batch) : 0.0;
                double *base = igd::state_work(h) + (averaging ? n : 0), *local = base + n;
                current = local;
                if (h->epoch.rows_seen == 0) igd::pull<RelaxedAccess>(m.params, base, local, n);
                const double l = igd::linear_step<M>(LinearParams<PlainAccess>{local, d, k}, x, y,
                                                     s, scores, acc, t, weight);
                if ((h->epoch.rows_seen + 1) % h->epoch.batch == 0)
                    igd::exchange<RelaxedAccess>(m.params, base, local, n);
                return l;
            }
            case igd::Parallelism::shared_memory_locked: {
                SpinLockAcquire(&m.shared->lock);
                const double t = averaging ? double(m.shared->steps++) : 0.0;
                const double l = igd::linear_step<M>(LinearParams<PlainAccess>{m.params, d, k}, x,
                                                     y, s, scores, acc, t, weight);
                SpinLockRelease(&m.shared->lock);
                return l;
            }
            default:
                return igd::linear_step<M>(
                    LinearParams<PlainAccess>{m.params, d, k}, x, y, s, scores, acc,
                    double(h->epoch.avg_steps + h->epoch.rows_seen), weight, &factor);
        }
    });
    if (!std::isfinite(loss)) {
        bool finite = true;
        x.for_each([&](int64_t, double v) { finite = finite && std::isfinite(v); });
        if (!finite)
            fail(ERRCODE_DATA_EXCEPTION, "features contain NaN or infinity", row_detail(h));
    }
    // A step that blew the model up shows first in an intercept, which every step touches.
    account(h, loss, std::isfinite(RelaxedAccess::load(current + d)), factor);
}

void dimension_error(int64_t got, int64_t expected, const StateHeader *h) {
    fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
         "features have " + std::to_string(got) + " elements but the model expects " +
             std::to_string(expected),
         row_detail(h), "Every row's feature vector must have the model's dimension.");
}

template <class T>
void dense_row(StateHeader *h, ArrayType *a, double y, double *buffer, CallSite *site) {
    if (ARR_NDIM(a) > 1)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features must be a one-dimensional array, not " +
                                                std::to_string(ARR_NDIM(a)) + "-dimensional");
    if (ARR_HASNULL(a)) {
        if (h->epoch.flags & igd::kSkipNullElements) {
            h->epoch.null_elements_skipped++;
            return;
        }
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "features contain a NULL element", row_detail(h),
             "Training skips such rows by default (on_null => 'skip').");
    }
    const int64_t n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
    const int64_t d = h->model.dim;
    if (n != d) dimension_error(n, d, h);
    const double *scaler = igd::state_scaler(h);
    const T *raw = reinterpret_cast<const T *>(ARR_DATA_PTR(a));
    prefetch_next_row(a);  // its trip from memory overlaps this row's step
    double *scores = buffer + d;
    if (scaler) {
        // Standardise once into a reused buffer: the step then makes plain passes over it.
        igd::standardize(raw, scaler, scaler + d, n, buffer);
        linear_row(h, DenseRow<double>{buffer, n}, y, scores, site);
    } else {
        linear_row(h, DenseRow<T>{raw, n}, y, scores, site);
    }
}

// <trainer>_step(state, features float8[] | float4[] | sparsevec, label float8, model)
Datum linear_transition(FunctionCallInfo fcinfo, const char *trainer) {
    StateHeader *h = running_state(fcinfo, 3, trainer);
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) {
        if (h->epoch.flags & kNullIsError)
            fail(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                 std::string(PG_ARGISNULL(1) ? "features" : "label") + " is NULL", row_detail(h),
                 "Use on_null => 'skip' to skip such rows.");
        h->epoch.nulls_skipped++;
        PG_RETURN_POINTER(h);
    }
    const double y = encode_label(PG_GETARG_FLOAT8(2), h);
    CallSite *site = call_site(fcinfo);
    double *buffer = scratch(fcinfo, site, h->model.dim + 2 * int64_t(h->model.outputs));
    if ((h->epoch.flags & igd::kDecayPerRow) && site->steps == nullptr)
        pg_call([&] {
            site->steps = static_cast<igd::PerRowSteps *>(
                MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(igd::PerRowSteps)));
        });
    Oid type = site->feature_type;  // a call site's argument types never change
    if (type == InvalidOid) type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (type == InvalidOid) {
        // Citus's wrapper aggregates call this function without a call expression: the type is
        // the declared argument of the aggregate they run (never guessed from the bytes).
        pg_call([&] {
            const Oid agg = running_aggregate(fcinfo, false, nullptr);
            if (OidIsValid(agg)) type = transition_arg_type(fcinfo, agg, 1);
        });
        if (type == InvalidOid)
            fail(ERRCODE_FEATURE_NOT_SUPPORTED,
                 "cannot tell the type of an epoch's features argument", {},
                 "Call bismarck's epoch aggregates directly.");
    }
    site->feature_type = type;
    if (type == FLOAT8ARRAYOID || type == FLOAT4ARRAYOID) {
        ArrayType *a = PG_GETARG_ARRAYTYPE_P(1);
        if (ARR_ELEMTYPE(a) == FLOAT8OID)
            dense_row<double>(h, a, y, buffer, site);
        else if (ARR_ELEMTYPE(a) == FLOAT4OID)
            dense_row<float>(h, a, y, buffer, site);
        else
            fail(ERRCODE_DATATYPE_MISMATCH, "features must be float8[] or float4[]");
    } else {
        const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(1));
        if (v->dim != h->model.dim) dimension_error(v->dim, h->model.dim, h);
        igd::SparseRow row = sparsevec_row(v);
        if (const double *scaler = igd::state_scaler(h)) {
            // scaled, not centred: the row stays sparse (its values into the reused buffer)
            const double *inv = scaler + h->model.dim;
            for (int32_t k = 0; k < row.nnz; ++k) buffer[k] = row.value[k] * inv[row.index[k]];
            row.value = buffer;
        }
        linear_row(h, row, y, buffer + h->model.dim, site);
    }
    PG_RETURN_POINTER(h);
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::igd::StateHeader;

BISMARCK_FUNCTION(bismarck_logistic_step) {
    return linear_transition(fcinfo, "logistic");
}
BISMARCK_FUNCTION(bismarck_svm_step) {
    return linear_transition(fcinfo, "svm");
}
BISMARCK_FUNCTION(bismarck_linear_regression_step) {
    return linear_transition(fcinfo, "linear_regression");
}

// lmf_step(state, row bigint, col bigint, value float8, model)
BISMARCK_FUNCTION(bismarck_lmf_step) {
    using bismarck::igd::Parallelism;
    using bismarck::models::Lmf;
    StateHeader *h = running_state(fcinfo, 4, "lmf");
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3)) {
        if (h->epoch.flags & kNullIsError)
            fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "a row id, column id or value is NULL",
                 row_detail(h), "Use on_null => 'skip' to skip such rows.");
        h->epoch.nulls_skipped++;
        PG_RETURN_POINTER(h);
    }
    const int64_t i = PG_GETARG_INT64(1), j = PG_GETARG_INT64(2);
    const double v = PG_GETARG_FLOAT8(3);
    const Lmf::Shape shape{h->model.rows, h->model.cols, h->model.dim};
    if (i < 0 || i >= shape.rows || j < 0 || j >= shape.cols)
        fail(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
             "cell (" + std::to_string(i) + ", " + std::to_string(j) +
                 ") is outside the model's matrix",
             "The model has row ids 0.." + std::to_string(shape.rows - 1) + " and column ids 0.." +
                 std::to_string(shape.cols - 1) + ".");
    if (!std::isfinite(v)) fail(ERRCODE_DATA_EXCEPTION, "value is NaN or infinite", row_detail(h));
    const Model m = locate(h);
    const bismarck::igd::StepParams s{h->model.alpha, h->model.l2, 0.0, h->model.max_norm};
    double loss;
    switch (Parallelism(h->epoch.parallelism)) {
        case Parallelism::shared_memory:
            loss = Lmf::cell_objective<RelaxedAccess>(m.params, shape, i, j, v, h->model.l2);
            if (!(h->epoch.flags & kEvalOnly))
                Lmf::step<RelaxedAccess>(m.params, shape, i, j, v, s);
            break;
        case Parallelism::shared_memory_locked:
            SpinLockAcquire(&m.shared->lock);
            loss = Lmf::cell_objective<PlainAccess>(m.params, shape, i, j, v, h->model.l2);
            if (!(h->epoch.flags & kEvalOnly)) Lmf::step<PlainAccess>(m.params, shape, i, j, v, s);
            SpinLockRelease(&m.shared->lock);
            break;
        default:
            loss = Lmf::cell_objective<PlainAccess>(m.params, shape, i, j, v, h->model.l2);
            if (!(h->epoch.flags & kEvalOnly)) Lmf::step<PlainAccess>(m.params, shape, i, j, v, s);
    }
    account(h, loss, std::isfinite(RelaxedAccess::load(m.params + shape.row_bias(i))));
    PG_RETURN_POINTER(h);
}

// Model averaging: the two partial models, weighted by the rows each has seen. Shared memory:
// the model is already one; only the counters add up.
BISMARCK_FUNCTION(bismarck_epoch_combine) {
    MemoryContext context = aggregate_context(fcinfo, "an epoch's combine function");
    CallSite *site = call_site(fcinfo);
    if (PG_ARGISNULL(1)) {
        if (PG_ARGISNULL(0)) PG_RETURN_NULL();
        PG_RETURN_POINTER(trusted_state(fcinfo, site, 0));
    }
    // b is read only; it is validated (it may come from another node, as text).
    const void *saved = site->trusted;
    const StateHeader *b = PG_GETARG_POINTER(1) == saved
                               ? reinterpret_cast<const StateHeader *>(PG_GETARG_POINTER(1))
                               : read_state(PG_GETARG_DATUM(1));
    if (PG_ARGISNULL(0)) {
        MemoryContext old = MemoryContextSwitchTo(context);
        StateHeader *c = copy_state(b, b->epoch.n_work, b->epoch.flags & bismarck::igd::kShared);
        memcpy(bismarck::igd::state_work(c),
               bismarck::igd::state_work(const_cast<StateHeader *>(b)),
               sizeof(double) * b->epoch.n_work);
        memcpy(reinterpret_cast<char *>(c) + VARHDRSZ, reinterpret_cast<const char *>(b) + VARHDRSZ,
               sizeof(StateHeader) - VARHDRSZ);
        MemoryContextSwitchTo(old);
        site->trusted = c;
        PG_RETURN_POINTER(c);
    }
    StateHeader *a = trusted_state(fcinfo, site, 0);
    if (a->model.task != b->model.task || a->model.n_params != b->model.n_params ||
        a->model.outputs != b->model.outputs || a->model.dim != b->model.dim ||
        a->epoch.flags != b->epoch.flags || a->epoch.n_work != b->epoch.n_work ||
        a->model.meta_bytes != b->model.meta_bytes)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "cannot combine states of different models");
    const int64_t n = a->epoch.rows_seen + b->epoch.rows_seen;
    const bool shared = a->epoch.flags & bismarck::igd::kShared;
    if (!shared && n > 0) {
        const double wa = double(a->epoch.rows_seen) / double(n),
                     wb = double(b->epoch.rows_seen) / double(n);
        double *pa = bismarck::igd::state_params(a);
        const double *pb = bismarck::igd::state_params(b);
        if (a->epoch.flags & bismarck::igd::kAveraging) {
            // Each side's average of its iterates (w - acc / T), averaged like the models; the
            // accumulator is then the one that gives that average after the combined steps.
            double *qa = bismarck::igd::state_work(a);
            const double *qb = bismarck::igd::state_work(const_cast<StateHeader *>(b));
            const double t0 = double(a->epoch.avg_steps);
            const double ta = t0 + double(a->epoch.rows_seen), tb = t0 + double(b->epoch.rows_seen);
            const double t = t0 + double(n);
            for (int64_t k = 0; k < a->model.n_params; ++k) {
                const double avg_a = ta > 0 ? pa[k] - qa[k] / ta : pa[k];
                const double avg_b = tb > 0 ? pb[k] - qb[k] / tb : pb[k];
                const double w = wa * pa[k] + wb * pb[k];
                qa[k] = (w - (wa * avg_a + wb * avg_b)) * t;
            }
        }
        for (int64_t k = 0; k < a->model.n_params; ++k) pa[k] = wa * pa[k] + wb * pb[k];
        if (task_of(a) == bismarck::models::Task::lmf) {
            // the seen flags are a union, not an average
            const bismarck::models::Lmf::Shape s{a->model.rows, a->model.cols, a->model.dim};
            for (int64_t k = s.row_seen(0); k < s.size(); ++k) pa[k] = pa[k] != 0.0 ? 1.0 : 0.0;
        }
    }
    if (shared) {
        const int64_t np = a->model.n_params;
        const bool averaging = a->epoch.flags & bismarck::igd::kAveraging;
        double *wa = bismarck::igd::state_work(a);
        const double *wb = bismarck::igd::state_work(const_cast<StateHeader *>(b));
        // Averaging: the processes' accumulators of this epoch add up.
        if (averaging) {
            for (int64_t k = 0; k < np; ++k) wa[k] += wb[k];
        }
        // Batched: what b's copy moved since its last exchange joins a's; the driver adds the sum
        // (local - base) to the shared model after the epoch.
        const int64_t off = averaging ? np : 0;
        if (a->epoch.n_work == off + 2 * np) {
            double *a_local = wa + off + np;
            const double *b_base = wb + off;
            for (int64_t k = 0; k < np; ++k) a_local[k] += b_base[np + k] - b_base[k];
        }
    }
    a->epoch.rows_seen = n;
    a->epoch.participants += b->epoch.participants;
    a->epoch.nulls_skipped += b->epoch.nulls_skipped;
    a->epoch.null_elements_skipped += b->epoch.null_elements_skipped;
    a->epoch.loss_sum =
        bismarck::igd::epoch_loss_sum(a->epoch) + bismarck::igd::epoch_loss_sum(b->epoch);
    a->epoch.loss_product = 0.0;
    PG_RETURN_POINTER(a);
}
