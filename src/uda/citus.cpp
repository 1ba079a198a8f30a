// See citus.hpp. Plain C-style code: every function here is called inside pg_call().
#include "uda/citus.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "nodes/primnodes.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include <cstring>

namespace bismarck::uda {
namespace {

// A few answers, by OID, valid until pg_proc changes (a syscache invalidation of PROCOID).
struct WrapperEntry {
    Oid fn;       // an Aggref's aggfnoid
    int wrapper;  // 0: not Citus's, 1: worker_partial_agg, 2: coord_combine_agg
};
struct AggEntry {
    Oid agg;
    Oid transfn, combinefn;
    int nargs;
    Oid argtypes[4];
};
constexpr int kSlots = 8;
WrapperEntry wrappers[kSlots];
AggEntry aggs[kSlots];
int n_wrappers = 0, n_aggs = 0;
bool callback_registered = false;

void invalidate(Datum, int, uint32) {
    n_wrappers = 0;
    n_aggs = 0;
}

void ensure_callback() {
    if (!callback_registered) {
        CacheRegisterSyscacheCallback(PROCOID, invalidate, Datum(0));
        callback_registered = true;
    }
}

// 1 or 2 when `fn` is Citus's worker_partial_agg or coord_combine_agg: in pg_catalog, of that
// name, and a member of the extension citus. Anything else: 0.
int wrapper_kind(Oid fn) {
    for (int i = 0; i < n_wrappers; ++i)
        if (wrappers[i].fn == fn) return wrappers[i].wrapper;
    int kind = 0;
    if (get_func_namespace(fn) == PG_CATALOG_NAMESPACE) {
        const char *name = get_func_name(fn);
        if (name != nullptr &&
            (strcmp(name, "worker_partial_agg") == 0 || strcmp(name, "coord_combine_agg") == 0)) {
            const Oid citus = get_extension_oid("citus", true);
            if (OidIsValid(citus) && getExtensionOfObject(ProcedureRelationId, fn) == citus)
                kind = strcmp(name, "worker_partial_agg") == 0 ? 1 : 2;
        }
    }
    if (n_wrappers == kSlots) n_wrappers = 0;
    wrappers[n_wrappers++] = {fn, kind};
    return kind;
}

const AggEntry *aggregate_entry(Oid agg) {
    for (int i = 0; i < n_aggs; ++i)
        if (aggs[i].agg == agg) return &aggs[i];
    AggEntry e{agg, InvalidOid, InvalidOid, 0, {}};
    HeapTuple t = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg));
    if (HeapTupleIsValid(t)) {
        const auto *form = reinterpret_cast<Form_pg_aggregate>(GETSTRUCT(t));
        e.transfn = form->aggtransfn;
        e.combinefn = form->aggcombinefn;
        ReleaseSysCache(t);
    }
    HeapTuple p = SearchSysCache1(PROCOID, ObjectIdGetDatum(agg));
    if (HeapTupleIsValid(p)) {
        const auto *form = reinterpret_cast<Form_pg_proc>(GETSTRUCT(p));
        e.nargs = form->pronargs;
        for (int k = 0; k < form->pronargs && k < 4; ++k)
            e.argtypes[k] = form->proargtypes.values[k];
        ReleaseSysCache(p);
    }
    if (n_aggs == kSlots) n_aggs = 0;
    aggs[n_aggs] = e;
    return &aggs[n_aggs++];
}

}  // namespace

Oid running_aggregate(FunctionCallInfo fcinfo, bool combine, bool *via_citus) {
    if (via_citus != nullptr) *via_citus = false;
    if (AggCheckCallContext(fcinfo, nullptr) != AGG_CONTEXT_AGGREGATE) return InvalidOid;
    const Aggref *ref = AggGetAggref(fcinfo);
    if (ref == nullptr) return InvalidOid;
    ensure_callback();
    Oid agg = ref->aggfnoid;
    const int kind = wrapper_kind(agg);
    if (kind != 0) {
        // worker_partial_agg(agg, row) runs agg's transition function, coord_combine_agg(agg,
        // text, null) its combine function; the first argument names agg.
        if ((kind == 1) == combine || ref->args == NIL) return InvalidOid;
        const auto *first = static_cast<const TargetEntry *>(linitial(ref->args));
        if (first == nullptr || !IsA(first->expr, Const)) return InvalidOid;
        const auto *c = reinterpret_cast<const Const *>(first->expr);
        if (c->constisnull || (c->consttype != OIDOID && c->consttype != REGPROCEDUREOID))
            return InvalidOid;
        agg = DatumGetObjectId(c->constvalue);
        if (via_citus != nullptr) *via_citus = true;
    }
    const AggEntry *e = aggregate_entry(agg);
    const Oid expected = combine ? e->combinefn : e->transfn;
    if (!OidIsValid(expected) || expected != fcinfo->flinfo->fn_oid) return InvalidOid;
    return agg;
}

Oid transition_arg_type(FunctionCallInfo fcinfo, Oid aggregate, int argno) {
    if (fcinfo->flinfo->fn_expr != nullptr) return get_fn_expr_argtype(fcinfo->flinfo, argno);
    if (!OidIsValid(aggregate) || argno < 1) return InvalidOid;
    ensure_callback();
    const AggEntry *e = aggregate_entry(aggregate);
    return argno - 1 < e->nargs && argno - 1 < 4 ? e->argtypes[argno - 1] : InvalidOid;
}

}  // namespace bismarck::uda
