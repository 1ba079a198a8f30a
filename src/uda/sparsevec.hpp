// bismarck.sparsevec: the in-memory (and on-disk) layout of a sparse float8 vector, and the view
// the training engine reads it through. The SQL functions (I/O, casts, constructor) live in
// sparsevec.cpp; every way of building a value there validates it, so code that receives a
// SparseVec from PostgreSQL may rely on the invariants below without checking them again.
//
// Layout (one varlena, 8-byte aligned since the type is ALIGNMENT = double):
//   SparseVec header (16 bytes)
//   int32  index[nnz]   0-based, strictly increasing, each < dim
//   padding to a multiple of 8 bytes
//   double value[nnz]   finite and non-zero
// Putting all indices before all values keeps both arrays aligned and lets a kernel stream them.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/memutils.h"
}

#include <cstddef>
#include <cstdint>

#include "igd/rows.hpp"

namespace bismarck::uda {

struct SparseVec {
    int32 vl_len_;  // varlena header (never touch directly: SET_VARSIZE / VARSIZE)
    int32 dim;      // 1 .. SPARSEVEC_MAX_DIM
    int32 nnz;      // number of stored elements, 0 .. dim
    int32 unused;   // always 0; pads the header to 16 bytes so the arrays stay 8-aligned
};
static_assert(sizeof(SparseVec) == 16);

// The largest dimension accepted: enough for bag-of-words and hashed features, and a dense copy
// (the cast to float8[], a model's weight vector) still fits in one 1 GB allocation.
inline constexpr int32 SPARSEVEC_MAX_DIM = 100000000;

// Byte offset of the value array, and the total size, for `nnz` elements. int64 arithmetic so
// that a hostile nnz cannot wrap around.
inline constexpr size_t sparsevec_values_offset(int64 nnz) {
    return sizeof(SparseVec) + ((size_t(nnz) * sizeof(int32) + 7) & ~size_t(7));
}
inline constexpr size_t sparsevec_size(int64 nnz) {
    return sparsevec_values_offset(nnz) + size_t(nnz) * sizeof(double);
}

// The most elements a value can hold: a varlena (and a palloc chunk) is at most 1 GB - 1.
inline constexpr int32 SPARSEVEC_MAX_NNZ =
    int32((MaxAllocSize - sizeof(SparseVec) - sizeof(int32)) / (sizeof(int32) + sizeof(double)));
static_assert(sparsevec_size(SPARSEVEC_MAX_NNZ) <= MaxAllocSize);
static_assert(sparsevec_size(int64(SPARSEVEC_MAX_NNZ) + 1) > MaxAllocSize);

inline const int32_t *sparsevec_index(const SparseVec *v) {
    return reinterpret_cast<const int32_t *>(reinterpret_cast<const char *>(v) + sizeof(SparseVec));
}
inline int32_t *sparsevec_index(SparseVec *v) {
    return reinterpret_cast<int32_t *>(reinterpret_cast<char *>(v) + sizeof(SparseVec));
}
inline const double *sparsevec_values(const SparseVec *v) {
    return reinterpret_cast<const double *>(reinterpret_cast<const char *>(v) +
                                            sparsevec_values_offset(v->nnz));
}
inline double *sparsevec_values(SparseVec *v) {
    return reinterpret_cast<double *>(reinterpret_cast<char *>(v) +
                                      sparsevec_values_offset(v->nnz));
}

// The row the IGD engine consumes, read in place (nothing is copied).
inline igd::SparseRow sparsevec_row(const SparseVec *v) {
    return igd::SparseRow{sparsevec_index(v), sparsevec_values(v), v->nnz, int64_t(v->dim)};
}

// A fully detoasted, 4-byte-header, aligned copy of a sparsevec argument (or the value itself
// when it already is one). Calls into PostgreSQL and may raise: use it before C++ objects with
// destructors are alive, or inside pg_call.
inline SparseVec *sparsevec_from_datum(Datum d) {
    return reinterpret_cast<SparseVec *>(PG_DETOAST_DATUM(d));
}

// A new value in CurrentMemoryContext, zero-filled, header set (dim, nnz, varlena size). The
// caller fills index/values and must keep the invariants above. Throws UserError when dim is not
// in 1..SPARSEVEC_MAX_DIM, nnz not in 0..dim or above SPARSEVEC_MAX_NNZ, and PgError when
// palloc fails; it is safe to call with C++ objects alive.
SparseVec *sparsevec_palloc(int32 dim, int32 nnz);

}  // namespace bismarck::uda
