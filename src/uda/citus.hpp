// Telling which aggregate a transition or combine function runs in, also when Citus runs it.
//
// Citus (13.2, src/backend/distributed/utils/aggregate_utils.c) distributes a custom aggregate
// with a combine function through two wrapper aggregates of its own, both in pg_catalog and
// members of the citus extension:
//   worker_partial_agg(oid, anyelement)          on each shard: calls our transition function
//   coord_combine_agg(oid, cstring, anyelement)  on the coordinator: our type's input function on
//                                                each shard's text, then our combine function
// Their first argument is a Const (type oid) holding the OID of the aggregate being distributed
// (resolved by name on each node, so it is that node's OID). They call our functions through a
// fresh FmgrInfo on every row: fn_expr is NULL (get_fn_expr_argtype gives InvalidOid), fn_extra
// is NULL every time and fn_mcxt is the per-row memory; fcinfo->context is their AggState, so
// AggCheckCallContext works and gives their aggregate context, and AggGetAggref gives their
// Aggref. See DESIGN.md / the report of branch citus.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace bismarck::uda {

// The aggregate whose transition or combine function this call is: the call's own Aggref, or,
// under Citus's worker_partial_agg / coord_combine_agg, the aggregate they run. Returns
// InvalidOid when that cannot be told (not an aggregate call, a window aggregate, no Aggref),
// or when the aggregate's transition function (or, with combine = true, its combine function)
// is not the function being called. *via_citus (may be null) tells whether a Citus wrapper runs
// it. Catalog lookups are cached per backend and dropped on any pg_proc change, so calling this
// on every row (Citus gives no fn_extra that lasts) costs a few pointer reads.
// Calls into PostgreSQL that may raise: use it inside pg_call().
Oid running_aggregate(FunctionCallInfo fcinfo, bool combine, bool *via_citus);

// The type of argument `argno` (0-based, as PG_GETARG) of a transition function: the call
// expression's when there is one, else (Citus) the declared argument `argno - 1` of `aggregate`.
// InvalidOid when unknown. May raise: use it inside pg_call().
Oid transition_arg_type(FunctionCallInfo fcinfo, Oid aggregate, int argno);

}  // namespace bismarck::uda
