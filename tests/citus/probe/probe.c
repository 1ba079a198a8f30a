/* What a transition / combine function sees when Citus's worker_partial_agg / coord_combine_agg
 * call it. Logs (NOTICE) on the first two calls of each state and every combine call. */
#include "postgres.h"
#include "fmgr.h"
#include "nodes/execnodes.h"
#include "nodes/primnodes.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "catalog/pg_type.h"
PG_MODULE_MAGIC;

static void report(FunctionCallInfo fcinfo, const char *who, int call)
{
	MemoryContext aggctx = NULL;
	int kind = AggCheckCallContext(fcinfo, &aggctx);
	Aggref *ar = kind ? AggGetAggref(fcinfo) : NULL;
	StringInfoData s;
	initStringInfo(&s);
	appendStringInfo(&s, "%s call %d: nargs=%d context=%s(tag %d) AggCheckCallContext=%d aggcontext=%s "
					 "CurrentMemoryContext=%s | flinfo: fn_oid=%u (%s) fn_expr=%s fn_extra=%p fn_mcxt=%s "
					 "argtype(1)=%u",
					 who, call, fcinfo->nargs,
					 fcinfo->context == NULL ? "NULL" : (IsA(fcinfo->context, AggState) ? "AggState" : "other"),
					 fcinfo->context ? (int) nodeTag(fcinfo->context) : -1,
					 kind, aggctx ? aggctx->name : "-", CurrentMemoryContext->name,
					 fcinfo->flinfo->fn_oid, format_procedure(fcinfo->flinfo->fn_oid),
					 fcinfo->flinfo->fn_expr ? "set" : "NULL", fcinfo->flinfo->fn_extra,
					 fcinfo->flinfo->fn_mcxt ? fcinfo->flinfo->fn_mcxt->name : "-",
					 get_fn_expr_argtype(fcinfo->flinfo, 1));
	if (ar)
	{
		appendStringInfo(&s, " | AggGetAggref: aggfnoid=%u %s.%s nargs(args)=%d",
						 ar->aggfnoid, get_namespace_name(get_func_namespace(ar->aggfnoid)),
						 format_procedure(ar->aggfnoid), list_length(ar->args));
		if (ar->args != NIL)
		{
			TargetEntry *te = linitial(ar->args);
			if (IsA(te->expr, Const))
			{
				Const *c = (Const *) te->expr;
				appendStringInfo(&s, " first arg Const type %u value %u = %s", c->consttype,
								 DatumGetObjectId(c->constvalue),
								 format_procedure(DatumGetObjectId(c->constvalue)));
			}
			else
				appendStringInfo(&s, " first arg node tag %d", (int) nodeTag(te->expr));
		}
	}
	else
		appendStringInfoString(&s, " | AggGetAggref: NULL");
	elog(NOTICE, "%s", s.data);
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, 1);
}

PG_FUNCTION_INFO_V1(probe_sfunc);
Datum probe_sfunc(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	int64 *st;
	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "not an aggregate");
	if (PG_ARGISNULL(0))
	{
		bytea *b = MemoryContextAllocZero(aggctx, VARHDRSZ + sizeof(int64));
		SET_VARSIZE(b, VARHDRSZ + sizeof(int64));
		report(fcinfo, "sfunc", 1);
		PG_RETURN_BYTEA_P(b);
	}
	st = (int64 *) VARDATA(PG_GETARG_BYTEA_P(0));
	if (*st == 0)
		report(fcinfo, "sfunc", 2);
	(*st)++;
	PG_RETURN_POINTER(PG_GETARG_POINTER(0)); /* in place */
}

PG_FUNCTION_INFO_V1(probe_combine);
Datum probe_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	report(fcinfo, PG_ARGISNULL(0) ? "combine(NULL, b)" : "combine(a, b)", 0);
	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "not an aggregate");
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	if (PG_ARGISNULL(0))
	{
		bytea *b = PG_GETARG_BYTEA_P(1);
		bytea *c = MemoryContextAlloc(aggctx, VARSIZE(b));
		memcpy(c, b, VARSIZE(b));
		PG_RETURN_BYTEA_P(c);
	}
	*(int64 *) VARDATA(PG_GETARG_BYTEA_P(0)) += *(int64 *) VARDATA(PG_GETARG_BYTEA_P(1));
	PG_RETURN_POINTER(PG_GETARG_POINTER(0));
}
