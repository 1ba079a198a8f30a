// Models named in a query, shipped by value when Citus runs the query on its workers.
//
// bismarck.predict('m', x) (and predict_proba, decision_function, predict_probabilities,
// classes) reads model "m" from the catalog of the node it runs on. On a Citus distributed
// table the shard queries run on the workers, whose catalogs have no models. So, when the citus
// extension exists, a planner hook replaces every such call whose model name is a constant by
// the same function's by-value form, bismarck.predict('<state>'::bismarck.model_state, x),
// before Citus plans the query: the shard queries then carry the model itself.
//
// Why a planner hook and not a planner support function (SupportRequestSimplify): Citus builds
// the shard queries from the query as it was before the planner simplified it (it deparses a
// copy taken before standard_planner runs), so a simplification never reaches the workers. The
// hook must therefore run before Citus's: bismarck must be loaded when the query is planned
// (shared_preload_libraries = 'citus, bismarck', or any bismarck call earlier in the session).
//
// The model is read, with the permission checks of bismarck.model(), when the query is planned.
// A cached plan keeps it: the plan is marked as depending on bismarck.model_store (training,
// drop_model and grant_model invalidate it, see catalog::invalidate_plans) and on the role
// that planned it.
#include "uda/catalog.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include <cstring>

namespace bismarck::uda {
namespace {

planner_hook_type previous_planner = nullptr;

// The by-name functions of this database and their by-value twins, found once per backend and
// dropped on any pg_proc change.
constexpr int kMaxPairs = 128;
struct Pair {
    Oid by_name, by_value;
};
Pair pairs[kMaxPairs];
int n_pairs = -1;  // -1: not looked up yet
Oid state_type = InvalidOid;

void forget(Datum, int, uint32) {
    n_pairs = -1;
}

const char *const kShippable[] = {"predict", "predict_proba", "decision_function",
                                  "predict_probabilities", "classes"};

// Plain C-style: may raise a PostgreSQL error, holds nothing with a destructor.
void find_pairs() {
    static bool registered = false;
    if (!registered) {
        CacheRegisterSyscacheCallback(PROCOID, forget, Datum(0));
        registered = true;
    }
    n_pairs = 0;
    const Oid nsp = get_namespace_oid("bismarck", true);
    if (!OidIsValid(nsp)) return;
    state_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("model_state"),
                                 ObjectIdGetDatum(nsp));
    if (!OidIsValid(state_type)) return;
    for (const char *name : kShippable) {
        CatCList *list = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(name));
        for (int i = 0; i < list->n_members; ++i) {
            const auto *a = reinterpret_cast<Form_pg_proc>(GETSTRUCT(&list->members[i]->tuple));
            if (a->pronamespace != nsp || a->pronargs < 1 || a->proargtypes.values[0] != TEXTOID)
                continue;
            for (int j = 0; j < list->n_members; ++j) {
                const auto *b = reinterpret_cast<Form_pg_proc>(GETSTRUCT(&list->members[j]->tuple));
                if (b->pronamespace != nsp || b->pronargs != a->pronargs ||
                    b->proargtypes.values[0] != state_type || b->prorettype != a->prorettype)
                    continue;
                bool same = true;
                for (int k = 1; k < a->pronargs; ++k)
                    same = same && a->proargtypes.values[k] == b->proargtypes.values[k];
                if (same && n_pairs < kMaxPairs) pairs[n_pairs++] = {a->oid, b->oid};
            }
        }
        ReleaseSysCacheList(list);
    }
}

Oid by_value_of(Oid fn) {
    for (int i = 0; i < n_pairs; ++i)
        if (pairs[i].by_name == fn) return pairs[i].by_value;
    return InvalidOid;
}

// The constant model name of a by-name call, or null.
const Const *name_const(const FuncExpr *f) {
    if (f->args == NIL) return nullptr;
    const Node *arg = static_cast<const Node *>(linitial(f->args));
    while (arg != nullptr && IsA(arg, RelabelType))
        arg = reinterpret_cast<const Node *>(reinterpret_cast<const RelabelType *>(arg)->arg);
    if (arg == nullptr || !IsA(arg, Const)) return nullptr;
    const auto *c = reinterpret_cast<const Const *>(arg);
    return c->consttype == TEXTOID && !c->constisnull ? c : nullptr;
}

// A walker as nodeFuncs.h declares them (through void (*)() to silence -Wcast-function-type).
bool (*walker(bool (*f)(Node *, void *)))() {
    return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(f));
}

bool collect(Node *node, void *context);

// Collects the by-name calls with a constant name, in every subquery, CTE and sublink.
bool collect(Node *node, void *context) {
    if (node == nullptr) return false;
    if (IsA(node, Query))
        return query_tree_walker(reinterpret_cast<Query *>(node), walker(collect), context, 0);
    if (IsA(node, FuncExpr)) {
        auto *f = reinterpret_cast<FuncExpr *>(node);
        if (OidIsValid(by_value_of(f->funcid)) && name_const(f) != nullptr) {
            auto *found = static_cast<List **>(context);
            *found = lappend(*found, f);
        }
    }
    return expression_tree_walker(node, walker(collect), context);
}

// The calls to rewrite in `parse`; NIL when there is nothing to do (no bismarck here, no such
// call, or no Citus). May raise a PostgreSQL error; nothing here has a destructor.
List *calls_to_ship(Query *parse) {
    if (n_pairs < 0) find_pairs();
    if (n_pairs == 0) return NIL;
    List *found = NIL;
    (void)query_tree_walker(parse, walker(collect), &found, 0);
    if (found == NIL) return NIL;
    if (!OidIsValid(get_extension_oid("citus", true))) return NIL;
    return found;
}

// Replaces each call's model name by the model (may throw: run it inside the error boundary).
void ship(List *calls) {
    ListCell *lc;
    foreach (lc, calls) {
        auto *f = static_cast<FuncExpr *>(lfirst(lc));
        const Const *c = name_const(f);
        char *name = nullptr;
        pg_call([&] { name = text_to_cstring(DatumGetTextPP(c->constvalue)); });
        const catalog::Model m = catalog::load(name, CurrentMemoryContext);
        pg_call([&] {
            Const *state =
                makeConst(state_type, -1, InvalidOid, -1, PointerGetDatum(m.state), false, false);
            state->location = c->location;
            f->funcid = by_value_of(f->funcid);
            linitial(f->args) = state;
        });
    }
}

PlannedStmt *plan(Query *parse, const char *query_string, int cursor_options,
                  ParamListInfo bound_params) {
    List *calls = calls_to_ship(parse);
    if (calls != NIL) {
        ErrorReport report;
        bool failed = false;
        try {
            ship(calls);
        } catch (...) {
            capture_exception(report);
            failed = true;
        }
        if (failed) raise_report(report);
    }
    PlannedStmt *result = previous_planner
                              ? previous_planner(parse, query_string, cursor_options, bound_params)
                              : standard_planner(parse, query_string, cursor_options, bound_params);
    if (calls != NIL) {
        const Oid store = get_relname_relid("model_store", get_namespace_oid("bismarck", false));
        result->relationOids = lappend_oid(result->relationOids, store);
        result->dependsOnRole = true;
    }
    return result;
}

}  // namespace
}  // namespace bismarck::uda

extern "C" {
PGDLLEXPORT void _PG_init(void);
void _PG_init(void) {
    bismarck::uda::previous_planner = planner_hook;
    planner_hook = bismarck::uda::plan;
}
}
