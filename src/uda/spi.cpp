// SPI helpers (see spi.hpp).
#include "uda/spi.hpp"

extern "C" {
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace bismarck::uda::spi {

std::string ident(const std::string &name) {
    const char *q = nullptr;
    pg_call([&] { q = quote_identifier(name.c_str()); });
    return q;
}

std::string relation(Oid relid) {
    char *nsp = nullptr, *rel = nullptr;
    pg_call([&] {
        nsp = get_namespace_name(get_rel_namespace(relid));
        rel = get_rel_name(relid);
    });
    if (nsp == nullptr || rel == nullptr)
        fail(ERRCODE_UNDEFINED_TABLE,
             "relation with OID " + std::to_string(relid) + " does not exist");
    return ident(nsp) + "." + ident(rel);
}

std::string literal(const std::string &s) {
    const char *q = nullptr;
    pg_call([&] { q = quote_literal_cstr(s.c_str()); });
    return q;
}

// An error raised inside one of the driver's own queries (a cast of the user's column, a check
// of the statistics aggregate) is about the user's table: it is re-raised with its message,
// detail and hint only, without the internal query as CONTEXT, which names scratch tables and
// helper functions the user never wrote.
template <class F>
void run_query(F &&f) {
    try {
        pg_call(f);
    } catch (PgError &e) {
        e.data->context = nullptr;
        e.data->internalquery = nullptr;
        e.data->internalpos = 0;
        e.data->cursorpos = 0;
        throw;
    }
}

uint64_t exec(const std::string &sql, const std::vector<Arg> &args, bool read_only) {
    std::vector<Oid> types;
    std::vector<Datum> values;
    std::vector<char> nulls;
    for (const Arg &a : args) {
        types.push_back(a.type);
        values.push_back(a.value);
        nulls.push_back(a.null ? 'n' : ' ');
    }
    int rc = 0;
    run_query([&] {
        rc = SPI_execute_with_args(sql.c_str(), int(args.size()), types.data(), values.data(),
                                   nulls.data(), read_only, 0);
    });
    if (rc < 0) fail(ERRCODE_INTERNAL_ERROR, "SPI failed (" + std::to_string(rc) + ") on: " + sql);
    return SPI_processed;
}

Datum value(uint64_t row, int col, bool *isnull, MemoryContext context) {
    Datum d = 0;
    pg_call([&] {
        d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
        if (!*isnull && context != nullptr) {
            Oid type = SPI_gettypeid(SPI_tuptable->tupdesc, col);
            int16 len;
            bool byval;
            get_typlenbyval(type, &len, &byval);
            MemoryContext old = MemoryContextSwitchTo(context);
            d = datumCopy(d, byval, len);
            MemoryContextSwitchTo(old);
        }
    });
    return d;
}

double float8_value(uint64_t row, int col, double if_null) {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetFloat8(d);
}

int64_t int64_value(uint64_t row, int col, int64_t if_null) {
    bool isnull;
    Datum d = value(row, col, &isnull);
    return isnull ? if_null : DatumGetInt64(d);
}

std::string text_value(uint64_t row, int col, const std::string &if_null) {
    char *s = nullptr;
    pg_call([&] { s = SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col); });
    return s ? std::string(s) : if_null;
}

// A generic plan from the first execution: a custom plan would embed the model state passed as
// $1 as a constant (megabytes for a factorization), and a parallel plan ships its constants to
// every worker as text.
GucScope::GucScope() {
    pg_call([&] { nest_ = NewGUCNestLevel(); });
}

void GucScope::set(const char *name, const std::string &value) {
    pg_call([&] {
        (void)set_config_option(name, value.c_str(), PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                true, 0, false);
    });
}

void GucScope::close() {
    pg_call([&] { AtEOXact_GUC(true, nest_); });
}

void set_random_seed(int64_t seed) {
    char frac[64];  // setseed takes a number in [-1, 1]
    snprintf(frac, sizeof frac, "%.17g", double(uint64_t(seed) % 2000000001ull) / 1e9 - 1.0);
    exec(std::string("SELECT pg_catalog.setseed(") + frac + ")");
}

void Plan::prepare(const std::string &sql_, const std::vector<Oid> &types_, bool one_shot_) {
    sql = sql_;
    types = types_;
    one_shot = one_shot_;
    plan = nullptr;
    if (one_shot) return;
    pg_call([&] {
        plan = SPI_prepare_cursor(sql.c_str(), int(types.size()), const_cast<Oid *>(types.data()),
                                  CURSOR_OPT_PARALLEL_OK | CURSOR_OPT_GENERIC_PLAN);
        if (plan == nullptr)
            elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    });
}

uint64_t Plan::exec(const std::vector<Arg> &args, bool read_only) const {
    if (one_shot) return spi::exec(sql, args, read_only);
    std::vector<Datum> values;
    std::vector<char> nulls;
    for (const Arg &a : args) {
        values.push_back(a.value);
        nulls.push_back(a.null ? 'n' : ' ');
    }
    int rc = 0;
    run_query([&] { rc = SPI_execute_plan(plan, values.data(), nulls.data(), read_only, 0); });
    if (rc < 0)
        fail(ERRCODE_INTERNAL_ERROR, "SPI_execute_plan failed (" + std::to_string(rc) + ")");
    return SPI_processed;
}

}  // namespace bismarck::uda::spi
