// Test hooks for the error boundary. The C symbols live in the library, but SQL functions for
// them are only created by the test-only script sql_tests/boundary.sql, never by the extension.
#include "uda/boundary.hpp"

extern "C" {
#include "utils/builtins.h"
}

#include <memory>
#include <stdexcept>
#include <vector>

namespace {

// Deep in "the core": a few frames holding objects with destructors, then a throw.
int deep_throw(int depth, const std::string &kind) {
    std::vector<double> live(1000, 1.0);
    if (depth > 0) return deep_throw(depth - 1, kind) + int(live[0]);
    if (kind == "runtime") throw std::runtime_error("core failure deep in the engine");
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "invalid")
        throw bismarck::igd::Error(bismarck::igd::Error::Kind::invalid_parameter,
                                   "engine rejected an option");
    if (kind == "diverged")
        throw bismarck::igd::Error(bismarck::igd::Error::Kind::diverged, "loss became NaN");
    if (kind == "unknown") throw 42;
    return 0;
}

}  // namespace

// bismarck_test_raise(kind text) returns int: raises the error `kind` from deep C++ frames, or a
// PostgreSQL error while C++ objects are alive ('postgres'), or returns 0 ('none').
BISMARCK_FUNCTION(bismarck_test_raise) {
    const std::string kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
    if (kind == "postgres") {
        auto owned = std::make_unique<std::vector<double>>(1 << 20, 2.0);
        bismarck::uda::pg_call([&] {
            ereport(ERROR, (errcode(ERRCODE_DIVISION_BY_ZERO),
                            errmsg("postgres error raised while C++ objects are alive")));
        });
        return Int32GetDatum(int((*owned)[0]));
    }
    return Int32GetDatum(deep_throw(5, kind));
}

// bismarck_bench_dot(w float8[], x float8[]) returns float8: the baseline of the prediction and
// epoch benchmarks, a bare dot product of a row with a constant weight array and nothing else.
// Created only by the benchmark's own SQL, never by the extension.
extern "C" {
#include "utils/array.h"
}
BISMARCK_FUNCTION(bismarck_bench_dot) {
    ArrayType *w = PG_GETARG_ARRAYTYPE_P(0);
    ArrayType *x = PG_GETARG_ARRAYTYPE_P(1);
    const int n = ArrayGetNItems(ARR_NDIM(x), ARR_DIMS(x));
    if (ArrayGetNItems(ARR_NDIM(w), ARR_DIMS(w)) != n || ARR_HASNULL(w) || ARR_HASNULL(x))
        bismarck::uda::fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "dimensions differ");
    const double *a = reinterpret_cast<const double *>(ARR_DATA_PTR(w));
    const double *b = reinterpret_cast<const double *>(ARR_DATA_PTR(x));
    // the engine's own dot-product kernel: the baseline is the same arithmetic without the rest
    PG_RETURN_FLOAT8(bismarck::igd::dense_dot<bismarck::igd::PlainAccess>(a, b, n));
}

// bismarck_bench_dot_prefetch(w, x): the same, prefetching the next row as the epochs do (the
// floor of an epoch that hides the row's trip from memory behind its work).
#include "uda/prefetch.hpp"
BISMARCK_FUNCTION(bismarck_bench_dot_prefetch) {
    bismarck::uda::prefetch_next_row(DatumGetPointer(PG_GETARG_DATUM(1)));
    return bismarck_bench_dot(fcinfo);
}

// bismarck_test_last_segment() returns bigint: the handle of the last shared-memory model segment
// a training in this session created (its file is /dev/shm/PostgreSQL.<handle> with
// dynamic_shared_memory_type = posix), NULL if none. Created only by sql_tests/parallel.sql, so
// that the test checks its own segments, not every cluster's on the machine.
#include "uda/shared_model.hpp"
BISMARCK_FUNCTION(bismarck_test_last_segment) {
    const uint64_t handle = bismarck::uda::shared_last_created();
    if (handle == 0) PG_RETURN_NULL();
    PG_RETURN_INT64(int64(handle));
}
