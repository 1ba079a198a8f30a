// Prediction: bismarck.predict, decision_function, predict_proba, predict_probabilities and
// classes (linear models, dense and sparse rows), predict(model, row, col) and recommend
// (factorizations), each by model name or by value (a bismarck.model_state, IMMUTABLE PARALLEL
// SAFE). Nothing here knows a model: the target kind says how scores become a prediction, and a
// probabilistic model gives its probabilities through the registry.
//
// A model named in a query is loaded once per query, not once per row: the first call loads it
// into fn_extra (the per-query memory of the call site) and folds the stored scalers into the
// weights, so a prediction is one dot product per output.
#include "uda/catalog.hpp"
#include "uda/features.hpp"
#include "uda/sparsevec.hpp"
#include "uda/spi.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace bismarck::uda {
namespace {

using models::Target;
using models::Task;

// A model ready to score rows, in fn_extra. Plain data in a memory context, but for `rows`, a
// C++ object deleted by a reset callback of that context.
struct Loaded {
    bool by_name;  // loaded by name (else folded from a model_state value)
    int name_len;
    char name[64];       // by-name form: the model's name
    const void *key;     // by-value form: the argument it was folded from
    StateHeader *state;  // a copy of the state, in the call site's memory
    Task task;
    Target target;
    int32_t outputs;
    int64_t dim;
    double *w;             // linear: folded weights, outputs x (dim + 1)
    double *scores;        // linear: room for the scores of one row (and the probabilities)
    const double *params;  // lmf: the factor parameters
    int32_t n_classes;
    char **classes;              // the class labels' text forms
    bool array_features;         // the call site's features argument is an array (else a sparsevec)
    bool row_features;           // ... is a row of any type, its columns matched by name
    bool has_transform;          // the model records how its features come from columns
    features::RowEncoder *rows;  // the model's transform, bound to the row type (kept on refold)
};

// What a call site keeps in fn_extra: the models it has met by name (a query that scores rows
// with several models, one name per row, loads each once) and the one it folded from a value.
struct Site {
    static constexpr int kNamed = 8;
    Loaded *named[kNamed];
    int n_named, next;  // models loaded; the slot to reuse next
    Loaded *last;       // the model of the previous row
    Loaded *value;      // the by-value model
};

Site *site_of(FunctionCallInfo fcinfo) {
    auto *site = static_cast<Site *>(fcinfo->flinfo->fn_extra);
    if (site == nullptr) {
        pg_call([&] {
            site =
                static_cast<Site *>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(Site)));
        });
        fcinfo->flinfo->fn_extra = site;
    }
    return site;
}

// Folds `h` into `into` (the call site's previous model, whose memory is reused: a query whose
// rows bring one model after another keeps its memory flat), or into a new Loaded.
Loaded *fold(const StateHeader *h, MemoryContext mcxt, Loaded *into) {
    // The state of a shared-memory epoch in progress carries no parameters (they live in the
    // training run's segment): there is nothing to predict with.
    if (h->epoch.flags & igd::kShared)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model state holds no parameters (it belongs to a shared-memory epoch in progress)");
    const std::vector<igd::meta::Section> meta = meta_of(h);
    const auto *classes = igd::meta::find(meta, igd::meta::classes);
    Loaded *m = into;
    pg_call([&] {
        if (m == nullptr) m = static_cast<Loaded *>(MemoryContextAllocZero(mcxt, sizeof(Loaded)));
        if (m->w) pfree(m->w);
        if (m->scores) pfree(m->scores);
        if (m->state) pfree(m->state);
        for (int32_t c = 0; c < m->n_classes; ++c) pfree(m->classes[c]);
        if (m->classes) pfree(m->classes);
        features::RowEncoder *rows = m->rows;
        *m = Loaded{};
        m->rows = rows;
        m->state = static_cast<StateHeader *>(MemoryContextAlloc(mcxt, VARSIZE(h)));
        memcpy(m->state, h, VARSIZE(h));
        if (models::is_linear(task_of(h))) {
            m->w = static_cast<double *>(
                MemoryContextAlloc(mcxt, sizeof(double) * size_t(h->model.n_params)));
            m->scores = static_cast<double *>(
                MemoryContextAlloc(mcxt, sizeof(double) * size_t(2 * h->model.outputs + 2)));
        }
        if (classes) {
            m->classes = static_cast<char **>(
                MemoryContextAllocZero(mcxt, sizeof(char *) * (classes->size() + 1)));
            for (const std::string &c : *classes) {
                char *s = static_cast<char *>(MemoryContextAlloc(mcxt, c.size() + 1));
                memcpy(s, c.data(), c.size());
                s[c.size()] = '\0';
                m->classes[m->n_classes++] = s;
            }
        }
    });
    h = m->state;
    m->task = task_of(h);
    m->target = models::target_of(m->task);
    m->outputs = h->model.outputs;
    m->dim = h->model.dim;
    m->key = h;
    igd::Transform transform;
    m->has_transform = igd::Transform::from_meta(meta, &transform) && transform.dim() == m->dim;
    if (m->has_transform) {
        if (m->rows == nullptr) m->rows = features::row_encoder(mcxt);
        m->rows->set(std::move(transform));
    }
    if (models::is_linear(m->task)) {
        models::fold_scaler(igd::state_params(h), m->outputs, m->dim, igd::state_scaler(h), m->w,
                            h->model.target_mean, h->model.target_scale);
    } else {
        m->params = igd::state_params(h);
    }
    const int32_t expected =
        m->target == Target::binary ? 2 : (m->target == Target::classes ? m->outputs : 0);
    if (m->n_classes != expected)
        fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
             "invalid bismarck.model_state: the model has " + std::to_string(m->n_classes) +
                 " class labels but " + std::to_string(expected) + " classes");
    return m;
}

// The model for this call: by name (arg 0 is text) or by value (arg 0 is a model_state).
Loaded *model_for(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "model must not be NULL");
    MemoryContext mcxt = fcinfo->flinfo->fn_mcxt;
    Site *site = site_of(fcinfo);
    Loaded *cached = site->last;
    // The hot path, once per row: the same model name as the previous row's.
    if (cached && cached->by_name) {
        text *t = PG_GETARG_TEXT_PP(0);
        if (int(VARSIZE_ANY_EXHDR(t)) == cached->name_len &&
            memcmp(VARDATA_ANY(t), cached->name, cached->name_len) == 0)
            return cached;
    }
    auto inputs = [&](Loaded *l) {
        Oid type = InvalidOid;
        bool row = false;
        if (fcinfo->nargs > 1)
            pg_call([&] {
                type = get_fn_expr_argtype(fcinfo->flinfo, 1);
                row = type_is_rowtype(type);
            });
        l->array_features = fcinfo->nargs > 1 && !row && type_is_array(type);
        l->row_features = row;
        site->last = l;
        return l;
    };
    const Oid argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
    if (argtype == TEXTOID) {
        text *t = PG_GETARG_TEXT_PP(0);
        const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
        // Another model this call site has met already (rows naming one of several models).
        for (int i = 0; i < site->n_named; ++i) {
            Loaded *l = site->named[i];
            if (l->name_len == int(name.size()) && memcmp(l->name, name.data(), name.size()) == 0)
                return site->last = l;
        }
        // Load it, in a free slot or in place of the oldest one. (The catalog is read with the
        // query's snapshot, so a model met earlier in the query is still the one it would load.)
        catalog::Model m = catalog::load(name, CurrentMemoryContext);  // fold copies it
        const int slot = site->n_named < Site::kNamed ? site->n_named++ : site->next;
        site->next = (slot + 1) % Site::kNamed;
        Loaded *l = fold(m.state, mcxt, site->named[slot]);
        site->named[slot] = l;
        l->by_name = true;
        l->name_len = int(name.size());
        memcpy(l->name, name.data(), name.size());  // check_name bounds it to 63 bytes
        l->name[name.size()] = '\0';
        return inputs(l);
    }
    // By value: refold only when the state differs from the cached one. The same pointer says so
    // only for a constant or a parameter (fixed for the query); a computed state's memory is
    // reused row after row with other contents, so it is compared byte for byte (a memcmp, much
    // cheaper than a fold).
    cached = site->value;
    struct varlena *raw = reinterpret_cast<struct varlena *>(PG_GETARG_POINTER(0));
    if (cached && cached->state) {
        if (cached->key == raw && get_fn_expr_arg_stable(fcinfo->flinfo, 0)) return inputs(cached);
        if (!VARATT_IS_EXTENDED(raw) && VARSIZE(raw) == VARSIZE(cached->state) &&
            memcmp(raw, cached->state, VARSIZE(raw)) == 0) {
            cached->key = raw;
            return inputs(cached);
        }
    }
    const StateHeader *h = read_state(PointerGetDatum(raw));  // fold copies it
    if (cached && cached->state && VARSIZE(h) == VARSIZE(cached->state) &&
        memcmp(h, cached->state, VARSIZE(h)) == 0) {
        cached->key = raw;  // a toasted or short-header copy of the same state
        return inputs(cached);
    }
    Loaded *l = fold(h, mcxt, cached);
    l->key = raw;
    site->value = l;
    return inputs(l);
}

std::string model_label(const Loaded *m) {
    return m->name[0] ? "model \"" + std::string(m->name) + "\"" : "the model";
}

// "a logistic model", "an svm model": acronyms are read letter by letter.
std::string a_model(std::string_view task) {
    const bool an = task == "svm" || task == "lmf" ||
                    std::string_view("aeiou").find(task[0]) != std::string_view::npos;
    return (an ? "an " : "a ") + std::string(task) + " model";
}

[[noreturn]] void wrong_model(const Loaded *m, const std::string &fn, const std::string &needs) {
    fail(ERRCODE_WRONG_OBJECT_TYPE, model_label(m) + " is " + a_model(models::task_name(m->task)),
         {}, fn + " needs " + needs + ".");
}

void require_linear(const Loaded *m, const char *fn) {
    if (!models::is_linear(m->task))
        wrong_model(m, fn, "a logistic, svm or linear_regression model");
}

// The scores of the row in argument 1, into m->scores; false if the row has a NULL element.
bool scores(FunctionCallInfo fcinfo, const Loaded *m) {
    const int64_t d = m->dim;
    const int32_t k = m->outputs;
    double *s = m->scores;
    for (int32_t c = 0; c < k; ++c) s[c] = m->w[c * (d + 1) + d];
    int64_t n;
    auto dense = [&](auto *x) {
        for (int32_t c = 0; c < k; ++c)
            s[c] += igd::dense_dot<igd::PlainAccess>(m->w + c * (d + 1), x, d);
    };
    if (m->row_features) {
        if (!m->has_transform)
            fail(ERRCODE_WRONG_OBJECT_TYPE,
                 model_label(m) + " does not record the columns its features come from", {},
                 "Give it the features column (a model trained on a sparsevec, or by bismarck "
                 "0.1.0, takes its vector as it is).");
        if (!m->rows->encode(PG_GETARG_HEAPTUPLEHEADER(1), model_label(m))) return false;
        n = d;
        dense(m->rows->x.data());
    } else if (m->array_features) {
        ArrayType *a = PG_GETARG_ARRAYTYPE_P(1);
        if (ARR_NDIM(a) > 1)
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features must be a one-dimensional array, not " +
                                                    std::to_string(ARR_NDIM(a)) + "-dimensional");
        if (ARR_HASNULL(a)) return false;
        n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
        if (n == d) {
            const void *data = ARR_DATA_PTR(a);
            switch (ARR_ELEMTYPE(a)) {
                case FLOAT8OID:
                    dense(static_cast<const double *>(data));
                    break;
                case FLOAT4OID:
                    dense(static_cast<const float *>(data));
                    break;
                case INT2OID:
                    dense(static_cast<const int16 *>(data));
                    break;
                case INT4OID:
                    dense(static_cast<const int32 *>(data));
                    break;
                case INT8OID:
                    dense(static_cast<const int64 *>(data));
                    break;
                case NUMERICOID: {
                    std::vector<double> x(static_cast<size_t>(d));
                    Datum *elems;
                    bool *nulls;
                    int count;
                    pg_call([&] {
                        deconstruct_array(a, NUMERICOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                                          &count);
                        for (int j = 0; j < count; ++j)
                            x[j] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, elems[j]));
                    });
                    dense(x.data());
                    break;
                }
                default:
                    fail(ERRCODE_DATATYPE_MISMATCH, "features must be an array of numbers");
            }
        }
    } else {
        const SparseVec *v = sparsevec_from_datum(PG_GETARG_DATUM(1));
        n = v->dim;
        if (n == d) {
            const int32_t *idx = sparsevec_index(v);
            const double *val = sparsevec_values(v);
            for (int32_t c = 0; c < k; ++c) {
                const double *w = m->w + c * (d + 1);
                for (int32_t q = 0; q < v->nnz; ++q) s[c] += w[idx[q]] * val[q];
            }
        }
    }
    if (n != d)
        fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "features have " + std::to_string(n) +
                                                " elements but " + model_label(m) + " expects " +
                                                std::to_string(d));
    for (int32_t c = 0; c < k; ++c)
        if (!std::isfinite(s[c])) fail(ERRCODE_DATA_EXCEPTION, "features contain NaN or infinity");
    return true;
}

// The probabilities of every class from m->scores, into m->scores + outputs.
const double *probabilities(const Loaded *m, const char *fn) {
    double *p = m->scores + m->outputs;
    bool ok = false;
    models::with_linear_model(m->task, [&](auto model) {
        using M = decltype(model);
        if constexpr (M::probabilistic) {
            M::probabilities(m->scores, m->outputs, p);
            ok = true;
        }
    });
    if (!ok) wrong_model(m, fn, "a logistic model");
    return p;
}

text *as_text(const char *s) {
    text *t = nullptr;
    pg_call([&] { t = cstring_to_text(s); });
    return t;
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::models::Lmf;
using bismarck::models::Target;
using bismarck::models::Task;

// predict(model, features) -> text: the class as the training data had it, or a regression's
// value (as text; decision_function gives it as a number)
BISMARCK_FUNCTION(bismarck_predict) {
    Loaded *m = model_for(fcinfo);
    require_linear(m, "predict(model, features)");
    if (PG_ARGISNULL(1) || !scores(fcinfo, m)) PG_RETURN_NULL();
    if (m->target == Target::real) {
        char *s = nullptr;
        pg_call([&] { s = float8out_internal(m->scores[0]); });
        PG_RETURN_TEXT_P(as_text(s));
    }
    PG_RETURN_TEXT_P(
        as_text(m->classes[bismarck::models::predicted_class(m->target, m->scores, m->outputs)]));
}

// decision_function(model, features) -> w·x + b: binary models (> 0: the second class) and
// regressions (the predicted value)
BISMARCK_FUNCTION(bismarck_decision_function) {
    Loaded *m = model_for(fcinfo);
    require_linear(m, "decision_function");
    if (m->outputs != 1)
        fail(ERRCODE_WRONG_OBJECT_TYPE,
             model_label(m) + " has " + std::to_string(m->outputs) + " classes", {},
             "decision_function gives one score; bismarck.predict_probabilities gives one "
             "probability per class.");
    if (PG_ARGISNULL(1) || !scores(fcinfo, m)) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(m->scores[0]);
}

// predict_proba(model, features) -> P(second class) for two classes, else the probability of
// the predicted class
BISMARCK_FUNCTION(bismarck_predict_proba) {
    Loaded *m = model_for(fcinfo);
    require_linear(m, "predict_proba");
    if (PG_ARGISNULL(1) || !scores(fcinfo, m)) PG_RETURN_NULL();
    const double *p = probabilities(m, "predict_proba");
    if (m->target == Target::binary) PG_RETURN_FLOAT8(p[1]);
    PG_RETURN_FLOAT8(p[bismarck::models::predicted_class(m->target, m->scores, m->outputs)]);
}

// predict_probabilities(model, features) -> float8[]: one per class, in classes() order
BISMARCK_FUNCTION(bismarck_predict_probabilities) {
    Loaded *m = model_for(fcinfo);
    require_linear(m, "predict_probabilities");
    if (PG_ARGISNULL(1) || !scores(fcinfo, m)) PG_RETURN_NULL();
    const double *p = probabilities(m, "predict_probabilities");
    ArrayType *a = nullptr;
    pg_call([&] {
        Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * m->n_classes));
        for (int32_t c = 0; c < m->n_classes; ++c) elems[c] = Float8GetDatum(p[c]);
        a = construct_array(elems, m->n_classes, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
    });
    PG_RETURN_ARRAYTYPE_P(a);
}

// classes(model) -> text[]: the class labels, in the order of predict_probabilities
BISMARCK_FUNCTION(bismarck_classes) {
    Loaded *m = model_for(fcinfo);
    if (m->n_classes == 0) PG_RETURN_NULL();
    ArrayType *a = nullptr;
    pg_call([&] {
        Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * m->n_classes));
        for (int32_t c = 0; c < m->n_classes; ++c)
            elems[c] = PointerGetDatum(cstring_to_text(m->classes[c]));
        a = construct_array(elems, m->n_classes, TEXTOID, -1, false, TYPALIGN_INT);
    });
    PG_RETURN_ARRAYTYPE_P(a);
}

// predict(model, row, col) -> the predicted value of a cell, within the training values' range
BISMARCK_FUNCTION(bismarck_predict_cell) {
    const Loaded *m = model_for(fcinfo);
    if (m->task != Task::lmf) wrong_model(m, "predict(model, row, column)", "an lmf model");
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
    const StateHeader *h = m->state;
    const Lmf::Shape s{h->model.rows, h->model.cols, h->model.dim};
    PG_RETURN_FLOAT8(Lmf::predict_clipped<bismarck::igd::PlainAccess>(
        m->params, s, PG_GETARG_INT64(1), PG_GETARG_INT64(2), h->model.value_min,
        h->model.value_max));
}

// model(name) -> the stored model_state, for the IMMUTABLE by-value forms. STABLE: within a
// query the same name gives the same state, so the call site keeps the last one it loaded (a CTE
// or a subquery the planner inlines calls this once per row).
BISMARCK_FUNCTION(bismarck_model_state) {
    text *t = PG_GETARG_TEXT_PP(0);
    const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    struct Last {
        char name[64];
        int name_len;
        const StateHeader *state;
    };
    auto *last = static_cast<Last *>(fcinfo->flinfo->fn_extra);
    if (last && last->name_len == int(name.size()) &&
        memcmp(last->name, name.data(), name.size()) == 0)
        PG_RETURN_POINTER(last->state);
    catalog::Model m = catalog::load(name, fcinfo->flinfo->fn_mcxt);
    pg_call([&] {
        if (last == nullptr)
            last =
                static_cast<Last *>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(Last)));
        else if (last->state)
            pfree(const_cast<StateHeader *>(last->state));
    });
    last->name_len = int(name.size());  // check_name (in load) bounds it to 63 bytes
    memcpy(last->name, name.data(), name.size());
    last->state = m.state;
    fcinfo->flinfo->fn_extra = last;
    PG_RETURN_POINTER(m.state);
}

// recommend(model, row, k, exclude_seen, min_ratings) -> (column_id, score), best first. Columns
// with fewer than min_ratings ratings in the training data are left out (a movie rated once
// or twice has a bias fitted to one or two opinions); scores are clipped to the rating range.
BISMARCK_FUNCTION(bismarck_recommend) {
    ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "model and row must not be NULL");
    text *t = PG_GETARG_TEXT_PP(0);
    const std::string name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    const int64_t row = PG_GETARG_INT64(1);
    const int k = PG_ARGISNULL(2) ? 10 : PG_GETARG_INT32(2);
    const bool exclude_seen = PG_ARGISNULL(3) ? true : PG_GETARG_BOOL(3);
    const int min_ratings = fcinfo->nargs > 4 && !PG_ARGISNULL(4) ? PG_GETARG_INT32(4) : 1;
    if (k < 1)
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "k must be positive, not " + std::to_string(k));
    if (min_ratings < 1)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "min_ratings must be positive, not " + std::to_string(min_ratings));
    catalog::Model cm = catalog::load(name, CurrentMemoryContext);
    if (task_of(cm.state) != Task::lmf)
        fail(ERRCODE_WRONG_OBJECT_TYPE, "model \"" + name + "\" is " + a_model(cm.task), {},
             "recommend needs an lmf model.");
    const StateHeader *h = cm.state;
    const Lmf::Shape s{h->model.rows, h->model.cols, h->model.dim};
    const double *p = bismarck::igd::state_params(h);
    if (row < 0 || row >= s.rows || p[s.row_seen(row)] == 0.0)
        fail(ERRCODE_UNDEFINED_OBJECT,
             "row " + std::to_string(row) + " was not seen when model \"" + name + "\" was trained",
             {}, "recommend needs a row id that occurs in the training data.");
    std::vector<char> excluded(size_t(s.cols), 0);
    if (exclude_seen || min_ratings > 1) {
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
            // caller's privileges (operators qualified: nothing on the caller's search_path is
            // picked up).
            if (exclude_seen) {
                spi::exec("SELECT DISTINCT " + spi::ident(cc) + "::pg_catalog.int8 FROM " + src +
                              " WHERE " + spi::ident(rc) + " OPERATOR(pg_catalog.=) " +
                              std::to_string(row),
                          {}, true);
                for (uint64_t i = 0; i < SPI_processed; ++i) {
                    const int64_t c = spi::int64_value(i, 1, -1);
                    if (c >= 0 && c < s.cols) excluded[size_t(c)] = 1;
                }
            }
            if (min_ratings > 1) {
                spi::exec("SELECT " + spi::ident(cc) + "::pg_catalog.int8 FROM " + src +
                              " GROUP BY 1 HAVING pg_catalog.count(*) OPERATOR(pg_catalog.<) " +
                              std::to_string(min_ratings),
                          {}, true);
                for (uint64_t i = 0; i < SPI_processed; ++i) {
                    const int64_t c = spi::int64_value(i, 1, -1);
                    if (c >= 0 && c < s.cols) excluded[size_t(c)] = 1;
                }
            }
        }
        spi::finish();
    }
    std::vector<std::pair<double, int64_t>> scored;
    for (int64_t c = 0; c < s.cols; ++c)
        if (p[s.col_seen(c)] != 0.0 && !excluded[size_t(c)])
            scored.emplace_back(Lmf::predict_clipped<bismarck::igd::PlainAccess>(
                                    p, s, row, c, h->model.value_min, h->model.value_max),
                                c);
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

// grant_model(name, role, revoke)
BISMARCK_FUNCTION(bismarck_grant_model) {
    text *t = PG_GETARG_TEXT_PP(0);
    catalog::grant(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)), PG_GETARG_OID(1),
                   PG_GETARG_BOOL(2));
    PG_RETURN_VOID();
}
