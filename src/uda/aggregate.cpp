// The epoch aggregates: one call of bismarck.logistic_epoch / svm_epoch / lmf_epoch over a table
// is one epoch of incremental gradient descent.
//
//   transition  first row: copy the model passed as the last argument into the aggregate's
//               memory (or attach the shared-memory model), keeping a copy of it as `prev`;
//               every row: add the row's loss at `prev` (the loss of the model the epoch
//               started from, measured in this same scan) and take one gradient step.
//   combine     model averaging: the per-worker models, averaged weighted by rows seen (the form
//               a distributed engine runs); shared memory: the counters are summed.
//
// The state is updated in place once AggCheckCallContext confirms an aggregate call, so the
// executor never copies it; nothing is allocated per row.
#include "uda/progress.hpp"  // progress (issue 14)
#include "uda/shared_model.hpp"
#include "uda/sparsevec.hpp"
#include "uda/state.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "access/parallel.h"
}

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

using igd::kEvalOnly;
using igd::kNoDivergence;
using igd::kNullIsError;

// The transition and combine functions trust the state they are handed (it is updated in place,
// row after row, without being validated again), so they run only inside bismarck's own epoch
// aggregates, which have no initial value: the first row's state is always made by begin_epoch.
// An aggregate a user declares around them (with an INITCOND, or the combine function as its
// transition function) would hand them an unchecked state, and a window aggregate gives no way
// to tell which aggregate is running: both are refused, once per call site.
MemoryContext aggregate_context(FunctionCallInfo fcinfo, const char *name) {
    MemoryContext context = nullptr;
    const int kind = AggCheckCallContext(fcinfo, &context);
    if (kind == 0)
        fail(ERRCODE_FEATURE_NOT_SUPPORTED, std::string(name) + " must be called as an aggregate");
    if (fcinfo->flinfo->fn_extra == nullptr) {
        const Aggref *agg = kind == AGG_CONTEXT_AGGREGATE ? AggGetAggref(fcinfo) : nullptr;
        Oid agg_nsp = InvalidOid, own_nsp = InvalidOid;
        if (agg != nullptr)
            pg_call([&] {
                agg_nsp = get_func_namespace(agg->aggfnoid);
                own_nsp = get_namespace_oid("bismarck", false);
            });
        if (agg == nullptr || agg_nsp != own_nsp)
            fail(ERRCODE_FEATURE_NOT_SUPPORTED,
                 std::string(name) + " can only run inside bismarck's own epoch aggregates", {},
                 "Use bismarck.logistic_epoch, svm_epoch or lmf_epoch (not as a window function).");
        pg_call(
            [&] { fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 1); });
    }
    return context;
}

// Where this process reads and writes the model during the epoch.
struct Model {
    double *params;
    double *prev;
    SharedSegment *shared;  // null unless parallelism is shared memory
};

Model locate(StateHeader *h) {
    if (h->flags & igd::kShared) {
        SharedSegment *s = shared_attach(h->shared_handle, h->shared_token, h->n_params);
        return {segment_params(s), segment_prev(s), s};
    }
    return {igd::state_params(h), igd::state_prev(h), nullptr};
}

// First row of an epoch: the model argument becomes this aggregate's state.
StateHeader *begin_epoch(FunctionCallInfo fcinfo, int model_arg, MemoryContext context,
                         bool linear) {
    if (PG_ARGISNULL(model_arg))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "the model state argument of an epoch is NULL", {},
             "Start from bismarck.logistic_init(), svm_init() or lmf_init().");
    const StateHeader *in = read_state(PG_GETARG_DATUM(model_arg));
    // The SQL function is named after its model: logistic_step, svm_step, lmf_step.
    const char *fname = get_func_name(fcinfo->flinfo->fn_oid);
    const std::string expected = std::string(models::task_name(task_of(in))) + "_step";
    if (fname == nullptr || expected != fname)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "this epoch aggregate cannot train a model state of task " +
                 std::string(models::task_name(task_of(in))),
             {}, "Use " + expected.substr(0, expected.size() - 5) + "_epoch for this state.");
    if (models::is_linear(task_of(in)) != linear)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "model state does not fit this aggregate");
    // Shared-memory parallelism needs the segment a training run created (the lock lives there).
    const auto par = igd::Parallelism(in->parallelism);
    if ((par == igd::Parallelism::shared_memory || par == igd::Parallelism::shared_memory_locked) &&
        !(in->flags & igd::kShared))
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model state asks for shared-memory parallelism but has no shared-memory model", {},
             "Only bismarck's training functions run shared-memory epochs.");
    MemoryContext old = MemoryContextSwitchTo(context);
    StateHeader *h = copy_state(in, true);
    MemoryContextSwitchTo(old);
    h->rows_seen = 0;
    h->nulls_skipped = 0;
    h->loss_sum = 0.0;
    h->participants = IsParallelWorker() ? 1 : 0;  // combined: how many workers saw rows
    locate(h);  // attach the shared model now, so a bad handle fails on the first row
    return h;
}

// Where in the scan an error happened, for its DETAIL.
std::string row_detail(const StateHeader *h) {
    return "Row " + std::to_string(h->rows_seen + h->nulls_skipped + 1) + " of this epoch's scan.";
}

double label_of(double y, const StateHeader *h) {
    if (y == 1.0) return 1.0;
    if (y == 0.0 || y == -1.0) return -1.0;
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", y);
    fail(ERRCODE_DATA_EXCEPTION, std::string("label ") + buf + " is not a class label",
         row_detail(h), "Labels must be boolean, 0 or 1, or -1 or 1.");
}

std::string short_number(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

[[noreturn]] void non_finite(const StateHeader *h, const char *what) {
    const std::string row = std::to_string(h->rows_seen + h->nulls_skipped + 1);
    if (std::string(what) == "loss")
        throw igd::Error(igd::Error::Kind::diverged,
                         "training diverged: the loss became infinite or NaN at row " + row +
                             " of epoch " + std::to_string(h->epoch + 1) + " (step size " +
                             short_number(h->alpha) + ")");
    fail(ERRCODE_DATA_EXCEPTION, std::string(what) + " contain NaN or infinity",
         "Row " + row + " of this epoch's scan.");
}

// One row of a linear model. Runs the model's step on whichever row type and access policy.
template <class Row>
void linear_row(StateHeader *h, const Row &x, double y) {
    const Model m = locate(h);
    const int64_t d = h->dim;
    const igd::StepParams s{h->alpha, h->l2, h->l1, 0.0};
    const LinearParams<PlainAccess> prev{m.prev, d};
    const bool eval_only = h->flags & kEvalOnly;
    const double *current = m.params;  // where this row's step went
    const double loss = models::with_linear_model(task_of(h), [&](auto model) {
        using M = decltype(model);
        if (eval_only) return M::loss(y * prev.margin(x));
        switch (igd::Parallelism(h->parallelism)) {
            case igd::Parallelism::shared_memory: {
                const LinearParams<RelaxedAccess> w{m.params, d};
                if (h->batch <= 1) return igd::supervised_step<M>(w, prev, x, y, s);
                // Batched: plain steps on this process's copy, exchanged every `batch` rows.
                double *base = igd::state_prev(h), *local = base + h->n_params;
                current = local;
                if (h->rows_seen == 0) igd::pull<RelaxedAccess>(m.params, base, local, d + 1);
                const double l =
                    igd::supervised_step<M>(LinearParams<PlainAccess>{local, d}, prev, x, y, s);
                if ((h->rows_seen + 1) % h->batch == 0)
                    igd::exchange<RelaxedAccess>(m.params, base, local, d + 1);
                return l;
            }
            case igd::Parallelism::shared_memory_locked: {
                SpinLockAcquire(&m.shared->lock);
                const double l =
                    igd::supervised_step<M>(LinearParams<PlainAccess>{m.params, d}, prev, x, y, s);
                SpinLockRelease(&m.shared->lock);
                return l;
            }
            default:
                return igd::supervised_step<M>(LinearParams<PlainAccess>{m.params, d}, prev, x, y,
                                               s);
        }
    });
    // The loss is measured at the epoch's starting model; a step that blew the current model up
    // shows first in its intercept, which every step touches: stop there, within the epoch.
    if (!std::isfinite(loss) || !std::isfinite(RelaxedAccess::load(current + d))) {
        bool finite = true;
        x.for_each([&](int64_t, double v) { finite = finite && std::isfinite(v); });
        if (!finite) non_finite(h, "features");
        if (h->flags & kNoDivergence) {
            h->loss_sum = INFINITY;
        } else {
            non_finite(h, "loss");
        }
    } else if (std::isfinite(h->loss_sum)) {
        h->loss_sum += loss;
    }
    h->rows_seen++;
    progress::add_rows(1);  // progress (issue 14)
}

void dimension_error(int64_t got, int64_t expected, const StateHeader *h) {
    fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
         "features have " + std::to_string(got) + " elements but the model expects " +
             std::to_string(expected),
         row_detail(h), "Every row's feature vector must have the model's dimension.");
}

// A per-process buffer for one standardised row, grown as needed and reused by every row.
double *scratch(int64_t n) {
    static double *buffer = nullptr;
    static int64_t capacity = 0;
    if (n > capacity) {
        pg_call([&] {
            double *b = static_cast<double *>(
                MemoryContextAlloc(TopMemoryContext, sizeof(double) * size_t(n)));
            if (buffer) pfree(buffer);
            buffer = b;
        });
        capacity = n;
    }
    return buffer;
}

template <class T>
void dense_row(StateHeader *h, ArrayType *a, double y) {
    if (ARR_NDIM(a) > 1)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features must be a one-dimensional array, not " +
                                                std::to_string(ARR_NDIM(a)) + "-dimensional");
    if (ARR_HASNULL(a))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "features contain a NULL element", row_detail(h));
    const int64_t n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
    if (n != h->dim) dimension_error(n, h->dim, h);
    const double *scaler = igd::state_scaler(h);
    const T *raw = reinterpret_cast<const T *>(ARR_DATA_PTR(a));
    if (scaler) {
        // Standardise once into a reused buffer: the step then makes two plain passes over it
        // (both scores, then the update) instead of standardising in each.
        double *z = scratch(n);
        const double *mean = scaler, *inv = scaler + h->dim;
        for (int64_t j = 0; j < n; ++j) z[j] = (double(raw[j]) - mean[j]) * inv[j];
        linear_row(h, DenseRow<double>{z, n}, y);
    } else {
        linear_row(h, DenseRow<T>{raw, n}, y);
    }
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::igd::StateHeader;

// logistic_step / svm_step(state, features float8[] | float4[] | sparsevec, label float8, model)
BISMARCK_FUNCTION(bismarck_linear_step) {
    MemoryContext context = aggregate_context(fcinfo, "an epoch");
    StateHeader *h = PG_ARGISNULL(0) ? begin_epoch(fcinfo, 3, context, true)
                                     : reinterpret_cast<StateHeader *>(PG_GETARG_POINTER(0));
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) {
        if (h->flags & kNullIsError)
            fail(ERRCODE_NULL_VALUE_NOT_ALLOWED,
                 std::string(PG_ARGISNULL(1) ? "features" : "label") + " is NULL", row_detail(h),
                 "Use on_null => 'skip' to skip such rows.");
        h->nulls_skipped++;
        PG_RETURN_POINTER(h);
    }
    const double y = label_of(PG_GETARG_FLOAT8(2), h);
    const Oid type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    if (type == FLOAT8ARRAYOID || type == FLOAT4ARRAYOID) {
        ArrayType *a = PG_GETARG_ARRAYTYPE_P(1);
        if (ARR_ELEMTYPE(a) == FLOAT8OID)
            dense_row<double>(h, a, y);
        else
            dense_row<float>(h, a, y);
    } else {
        const SparseVec *v =
            reinterpret_cast<const SparseVec *>(PG_DETOAST_DATUM(PG_GETARG_DATUM(1)));
        if (v->dim != h->dim) dimension_error(v->dim, h->dim, h);
        linear_row(h, sparsevec_row(v), y);
    }
    PG_RETURN_POINTER(h);
}

// lmf_step(state, row bigint, col bigint, value float8, model)
BISMARCK_FUNCTION(bismarck_lmf_step) {
    using bismarck::models::Lmf;
    MemoryContext context = aggregate_context(fcinfo, "an epoch");
    StateHeader *h = PG_ARGISNULL(0) ? begin_epoch(fcinfo, 4, context, false)
                                     : reinterpret_cast<StateHeader *>(PG_GETARG_POINTER(0));
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3)) {
        if (h->flags & kNullIsError)
            fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "a row id, column id or value is NULL",
                 row_detail(h), "Use on_null => 'skip' to skip such rows.");
        h->nulls_skipped++;
        PG_RETURN_POINTER(h);
    }
    const int64_t i = PG_GETARG_INT64(1), j = PG_GETARG_INT64(2);
    const double v = PG_GETARG_FLOAT8(3);
    if (i < 0 || i >= h->rows || j < 0 || j >= h->cols)
        fail(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
             "cell (" + std::to_string(i) + ", " + std::to_string(j) +
                 ") is outside the model's matrix",
             "The model has row ids 0.." + std::to_string(h->rows - 1) + " and column ids 0.." +
                 std::to_string(h->cols - 1) + ".");
    if (!std::isfinite(v)) fail(ERRCODE_DATA_EXCEPTION, "value is NaN or infinite", row_detail(h));
    const Model m = locate(h);
    const Lmf::Shape shape{h->rows, h->cols, h->dim};
    const bismarck::igd::StepParams s{h->alpha, h->l2, 0.0, h->max_norm};
    const double loss = Lmf::cell_objective<PlainAccess>(m.prev, shape, i, j, v, h->l2);
    if (!(h->flags & kEvalOnly)) {
        switch (bismarck::igd::Parallelism(h->parallelism)) {
            case bismarck::igd::Parallelism::shared_memory:
                Lmf::step<RelaxedAccess>(m.params, shape, i, j, v, s);
                break;
            case bismarck::igd::Parallelism::shared_memory_locked:
                SpinLockAcquire(&m.shared->lock);
                Lmf::step<PlainAccess>(m.params, shape, i, j, v, s);
                SpinLockRelease(&m.shared->lock);
                break;
            default:
                Lmf::step<PlainAccess>(m.params, shape, i, j, v, s);
        }
    }
    if (!std::isfinite(loss) || !std::isfinite(m.params[shape.row_bias(i)])) {
        if (h->flags & kNoDivergence)
            h->loss_sum = INFINITY;
        else
            non_finite(h, "loss");
    } else if (std::isfinite(h->loss_sum)) {
        h->loss_sum += loss;
    }
    h->rows_seen++;
    bismarck::uda::progress::add_rows(1);  // progress (issue 14)
    PG_RETURN_POINTER(h);
}

// Model averaging: the two partial models, weighted by the rows each has seen. Shared memory:
// the model is already one; only the counters add up.
BISMARCK_FUNCTION(bismarck_epoch_combine) {
    MemoryContext context = aggregate_context(fcinfo, "an epoch's combine function");
    if (PG_ARGISNULL(1)) {
        if (PG_ARGISNULL(0)) PG_RETURN_NULL();
        PG_RETURN_DATUM(PG_GETARG_DATUM(0));
    }
    const StateHeader *b = reinterpret_cast<const StateHeader *>(PG_GETARG_POINTER(1));
    if (PG_ARGISNULL(0)) {
        MemoryContext old = MemoryContextSwitchTo(context);
        StateHeader *c = copy_state(b, true);
        // the prev block: the epoch's starting model, or a shared state's base and local copy
        const int64_t prev = (b->flags & bismarck::igd::kShared) ? 2 * b->n_params : b->n_params;
        memcpy(bismarck::igd::state_prev(c),
               bismarck::igd::state_prev(const_cast<StateHeader *>(b)), sizeof(double) * prev);
        MemoryContextSwitchTo(old);
        PG_RETURN_POINTER(c);
    }
    StateHeader *a = reinterpret_cast<StateHeader *>(PG_GETARG_POINTER(0));
    if (a->n_params != b->n_params || a->task != b->task || a->flags != b->flags)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "cannot combine states of different models");
    const int64_t n = a->rows_seen + b->rows_seen;
    if (!(a->flags & bismarck::igd::kShared) && n > 0) {
        const double wa = double(a->rows_seen) / double(n), wb = double(b->rows_seen) / double(n);
        double *pa = bismarck::igd::state_params(a);
        const double *pb = bismarck::igd::state_params(b);
        for (int64_t k = 0; k < a->n_params; ++k) pa[k] = wa * pa[k] + wb * pb[k];
        if (a->task == uint8_t(bismarck::models::Task::lmf)) {
            // the seen flags are a union, not an average
            const bismarck::models::Lmf::Shape s{a->rows, a->cols, a->dim};
            for (int64_t k = s.row_seen(0); k < s.size(); ++k) pa[k] = pa[k] != 0.0 ? 1.0 : 0.0;
        }
    }
    if ((a->flags & bismarck::igd::kShared) && (a->flags & bismarck::igd::kHasPrev) &&
        a->batch > 1) {
        // Batched shared memory: what b's copy moved since its last exchange joins a's; the
        // driver adds the sum (local - base) to the shared model after the epoch.
        double *a_local = bismarck::igd::state_prev(a) + a->n_params;
        const double *b_base = bismarck::igd::state_prev(const_cast<StateHeader *>(b));
        const double *b_local = b_base + b->n_params;
        for (int64_t k = 0; k < a->n_params; ++k) a_local[k] += b_local[k] - b_base[k];
    }
    a->rows_seen = n;
    a->participants += b->participants;
    a->nulls_skipped += b->nulls_skipped;
    a->loss_sum += b->loss_sum;
    PG_RETURN_POINTER(a);
}
