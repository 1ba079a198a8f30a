// Prediction: bismarck.predict, predict_proba, decision_function (linear models, dense and
// sparse rows), predict(model, row, col) and recommend (factorizations), each by model name or
// by value (a bismarck.model_state, IMMUTABLE PARALLEL SAFE).
//
// A model named in a query is loaded once per query, not once per row: the first call loads it
// into fn_extra (the per-query memory of the call site) and folds the stored scaler into the
// weights (w_j / s_j and b - sum w_j m_j / s_j), so a prediction is one dot product.
#include "uda/catalog.hpp"
#include "uda/sparsevec.hpp"
#include "uda/spi.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace bismarck::uda {
namespace {

using models::Task;

// A model ready to score rows, in fn_extra. Plain data only: it lives in a memory context.
struct Loaded {
    bool by_name;  // loaded by name (else folded from a model_state value)
    int name_len;
    char name[64];       // by-name form: the model's name
    Oid feature_type;    // the type of the call site's features argument
    const void *key;     // by-value form: the argument it was folded from
    StateHeader *state;  // a copy of the state, in the call site's memory
    StateHeader header;  // copy of the state's header
    Task task;
    int64_t dim;
    double *w;             // linear: folded weights [dim] and intercept w[dim]
    const double *params;  // lmf: the factor parameters
    int64_t label_low;
};

// Folds `h` into `into` (the call site's previous model, whose memory is reused: a query whose
// rows bring one model after another keeps its memory flat), or into a new Loaded.
Loaded *fold(const StateHeader *h, MemoryContext mcxt, Loaded *into) {
    // The state of a shared-memory epoch in progress carries no parameters (they live in the
    // training run's segment): there is nothing to predict with.
    if (h->flags & igd::kShared)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model state holds no parameters (it belongs to a shared-memory epoch in progress)");
    Loaded *m = into;
    pg_call([&] {
        if (m == nullptr) m = static_cast<Loaded *>(MemoryContextAllocZero(mcxt, sizeof(Loaded)));
        if (m->w) pfree(m->w);
        if (m->state) pfree(m->state);
        *m = Loaded{};
        m->state = static_cast<StateHeader *>(MemoryContextAlloc(mcxt, VARSIZE(h)));
        memcpy(m->state, h, VARSIZE(h));
        if (models::is_linear(task_of(h)))
            m->w = static_cast<double *>(MemoryContextAlloc(mcxt, sizeof(double) * (h->dim + 1)));
    });
    h = m->state;
    m->header = *h;
    m->task = task_of(h);
    m->dim = h->dim;
    m->key = h;
    if (models::is_linear(m->task)) {
        const int64_t d = h->dim;
        const double *p = igd::state_params(h);
        const double *sc = igd::state_scaler(h);
        double b = p[d];
        for (int64_t j = 0; j < d; ++j) {
            m->w[j] = sc ? p[j] * sc[d + j] : p[j];
            if (sc) b -= p[j] * sc[d + j] * sc[j];
        }
        m->w[d] = b;
    } else {
        m->params = igd::state_params(h);
    }
    return m;
}

// The model for this call: by name (arg 0 is text) or by value (arg 0 is a model_state).
Loaded *model_for(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "model must not be NULL");
    MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
    auto *cached = static_cast<Loaded *>(fcinfo->flinfo->fn_extra);
    // The hot path, once per row: the same model name as the cached one.
    if (cached && cached->by_name) {
        text *t = PG_GETARG_TEXT_PP(0);
        if (int(VARSIZE_ANY_EXHDR(t)) == cached->name_len &&
            memcmp(VARDATA_ANY(t), cached->name, cached->name_len) == 0)
            return cached;
    }
    const Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
    const Oid feature_type =
        fcinfo->nargs > 1 ? get_fn_expr_argtype(fcinfo->flinfo, 1) : InvalidOid;
    if (argtype == TEXTOID) {
        text *t = PG_GETARG_TEXT_PP(0);
        const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
        catalog::Model m = catalog::load(name, CurrentMemoryContext);  // fold copies it
        Loaded *l = fold(m.state, mcxt, cached);
        l->by_name = true;
        l->name_len = int(name.size());
        memcpy(l->name, name.data(), name.size());  // check_name bounds it to 63 bytes
        l->name[name.size()] = '\0';
        l->feature_type = feature_type;
        l->label_low = m.label_low;
        fcinfo->flinfo->fn_extra = l;
        return l;
    }
    // By value: refold only when the state differs from the cached one. The same pointer says so
    // only for a constant or a parameter (fixed for the query); a computed state's memory is
    // reused row after row with other contents, so it is compared byte for byte.
    struct varlena *raw = reinterpret_cast<struct varlena *>(PG_GETARG_POINTER(0));
    if (cached && cached->state) {
        if (cached->key == raw && get_fn_expr_arg_stable(fcinfo->flinfo, 0)) return cached;
        if (!VARATT_IS_EXTENDED(raw) && VARSIZE(raw) == VARSIZE(cached->state) &&
            memcmp(raw, cached->state, VARSIZE(raw)) == 0) {
            cached->key = raw;
            return cached;
        }
    }
    const StateHeader *h = read_state(PointerGetDatum(raw));  // fold copies it
    Loaded *l = fold(h, mcxt, cached);
    l->key = raw;
    l->feature_type = feature_type;
    l->label_low = 0;
    fcinfo->flinfo->fn_extra = l;
    return l;
}

std::string model_label(const Loaded *m) {
    return m->name[0] ? "model \"" + std::string(m->name) + "\"" : "the model";
}

void require(const Loaded *m, bool ok, const char *fn, const char *needs) {
    if (!ok)
        fail(ERRCODE_WRONG_OBJECT_TYPE,
             model_label(m) + " is " + (m->task == Task::logistic ? "a " : "an ") +
                 std::string(models::task_name(m->task)) + " model",
             {}, std::string(fn) + " needs " + needs + ".");
}

// w·x + b for the row in argument 1.
double score(FunctionCallInfo fcinfo, const Loaded *m) {
    if (PG_ARGISNULL(1)) return NAN;
    const Oid type = m->feature_type;
    double s = m->w[m->dim];
    int64_t n;
    if (type == FLOAT8ARRAYOID || type == FLOAT4ARRAYOID) {
        ArrayType *a = PG_GETARG_ARRAYTYPE_P(1);
        if (ARR_NDIM(a) > 1 || ARR_HASNULL(a))
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                 "features must be a one-dimensional array without NULL elements");
        n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
        if (n == m->dim) {
            if (ARR_ELEMTYPE(a) == FLOAT8OID) {
                s += bismarck::igd::dense_dot<bismarck::igd::PlainAccess>(
                    m->w, reinterpret_cast<const double *>(ARR_DATA_PTR(a)), n);
            } else {
                s += bismarck::igd::dense_dot<bismarck::igd::PlainAccess>(
                    m->w, reinterpret_cast<const float *>(ARR_DATA_PTR(a)), n);
            }
        }
    } else {
        const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(1));
        n = v->dim;
        if (n == m->dim) {
            const int32_t *idx = sparsevec_index(v);
            const double *val = sparsevec_values(v);
            for (int32_t k = 0; k < v->nnz; ++k) s += m->w[idx[k]] * val[k];
        }
    }
    if (n != m->dim)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features have " + std::to_string(n) +
                                                " elements but " + model_label(m) + " expects " +
                                                std::to_string(m->dim));
    if (!std::isfinite(s)) fail(ERRCODE_DATA_EXCEPTION, "features contain NaN or infinity");
    return s;
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::models::Lmf;
using bismarck::models::Task;

// predict(model, features) -> the class: 1, or the training labels' negative class (0 or -1)
BISMARCK_FUNCTION(bismarck_predict_class) {
    const Loaded *m = model_for(fcinfo);
    require(m, bismarck::models::is_linear(m->task), "predict(model, features)",
            "a logistic or svm model");
    if (PG_ARGISNULL(1)) PG_RETURN_NULL();
    PG_RETURN_INT32(score(fcinfo, m) > 0.0 ? 1 : int32(m->label_low));
}

// decision_function(model, features) -> w·x + b
BISMARCK_FUNCTION(bismarck_decision_function) {
    const Loaded *m = model_for(fcinfo);
    require(m, bismarck::models::is_linear(m->task), "decision_function",
            "a logistic or svm model");
    if (PG_ARGISNULL(1)) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(score(fcinfo, m));
}

// predict_proba(model, features) -> P(y = 1 | x)
BISMARCK_FUNCTION(bismarck_predict_proba) {
    const Loaded *m = model_for(fcinfo);
    require(m, m->task == Task::logistic, "predict_proba", "a logistic model");
    if (PG_ARGISNULL(1)) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(bismarck::models::Logistic::probability(score(fcinfo, m)));
}

// predict(model, row, col) -> the predicted value of a cell
BISMARCK_FUNCTION(bismarck_predict_cell) {
    const Loaded *m = model_for(fcinfo);
    require(m, m->task == Task::lmf, "predict(model, row, column)", "an lmf model");
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
    const Lmf::Shape s{m->header.rows, m->header.cols, m->header.dim};
    PG_RETURN_FLOAT8(Lmf::predict<bismarck::igd::PlainAccess>(m->params, s, PG_GETARG_INT64(1),
                                                              PG_GETARG_INT64(2)));
}

// model(name) -> the stored model_state, for the IMMUTABLE by-value forms
BISMARCK_FUNCTION(bismarck_model_state) {
    text *t = PG_GETARG_TEXT_PP(0);
    const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    catalog::Model m = catalog::load(name, CurrentMemoryContext);
    PG_RETURN_POINTER(m.state);
}

// recommend(model, row, k, exclude_seen) -> (column_id, score), best first
BISMARCK_FUNCTION(bismarck_recommend) {
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "model and row must not be NULL");
    text *t = PG_GETARG_TEXT_PP(0);
    const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    const int64_t row = PG_GETARG_INT64(1);
    const int k = PG_ARGISNULL(2) ? 10 : PG_GETARG_INT32(2);
    const bool exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
    if (k < 1)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "k must be positive, not " + std::to_string(k));
    catalog::Model cm = catalog::load(name, CurrentMemoryContext);
    if (task_of(cm.state) != Task::lmf)
        fail(ERRCODE_WRONG_OBJECT_TYPE,
             "model \"" + name + "\" is " + (cm.task == "logistic" ? "a " : "an ") + cm.task +
                 " model",
             {}, "recommend needs an lmf model.");
    const StateHeader *h = cm.state;
    const Lmf::Shape s{h->rows, h->cols, h->dim};
    const double *p = bismarck::igd::state_params(h);
    if (row < 0 || row >= s.rows || p[s.row_seen(row)] == 0.0)
        fail(ERRCODE_UNDEFINED_OBJECT,
             "row " + std::to_string(row) + " was not seen when model \"" + name + "\" was trained",
             {}, "recommend needs a row id that occurs in the training data.");
    std::vector<char> seen(size_t(s.cols), 0);
    if (exclude_seen) {
        spi::connect();
        spi::exec(
            "SELECT m.source, m.columns[1], m.columns[2] FROM bismarck.models m WHERE m.name "
            "OPERATOR(pg_catalog.=) " +
                spi::literal(name),
            {}, true);
        if (SPI_processed == 1) {
            const std::string src = spi::text_value(0, 1), rc = spi::text_value(0, 2),
                              cc = spi::text_value(0, 3);
            // The source as stored is already quoted and schema-qualified; read with the
            // caller's privileges.
            // (operators qualified: nothing on the caller's search_path is picked up)
            spi::exec("SELECT DISTINCT " + spi::ident(cc) + "::int8 FROM " + src + " WHERE " +
                          spi::ident(rc) + " OPERATOR(pg_catalog.=) " + std::to_string(row),
                      {}, true);
            for (uint64_t i = 0; i < SPI_processed; ++i) {
                const int64_t c = spi::int64_value(i, 1, -1);
                if (c >= 0 && c < s.cols) seen[size_t(c)] = 1;
            }
        }
        spi::finish();
    }
    std::vector<std::pair<double, int64_t>> scored;
    for (int64_t c = 0; c < s.cols; ++c)
        if (p[s.col_seen(c)] != 0.0 && !seen[size_t(c)])
            scored.emplace_back(Lmf::predict<bismarck::igd::PlainAccess>(p, s, row, c), c);
    const size_t top = std::min(scored.size(), size_t(k));
    std::partial_sort(scored.begin(), scored.begin() + top, scored.end(),
                      [](const auto &a, const auto &b) {
                          return a.first > b.first || (a.first == b.first && a.second < b.second);
                      });
    pg_call([&] {
        InitMaterializedSRF(fcinfo, 0);
        for (size_t i = 0; i < top; ++i) {
            Datum v[2] = {Int64GetDatum(scored[i].second), Float8GetDatum(scored[i].first)};
            bool n[2] = {false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
        }
    });
    return (Datum)0;
}

// drop_model(name) -> whether it existed
BISMARCK_FUNCTION(bismarck_drop_model) {
    text *t = PG_GETARG_TEXT_PP(0);
    PG_RETURN_BOOL(catalog::drop(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t))));
}

// grant_model(name, role) / revoke_model(name, role)
BISMARCK_FUNCTION(bismarck_grant_model) {
    text *t = PG_GETARG_TEXT_PP(0);
    catalog::grant(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)), PG_GETARG_OID(1),
                   PG_GETARG_BOOL(2));
    PG_RETURN_VOID();
}
