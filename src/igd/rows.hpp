// The rows a model learns from: dense (float8[]/float4[]) and sparse (sorted 0-based indices
// with values). Every kernel is written once over `for_each`, so a model never cares which kind
// of row it is given.
#pragma once

#include <cstdint>
#include <type_traits>

namespace bismarck::igd {

// A dense row read in place from its storage (features the driver standardises are standardised
// into a buffer first, once per row, by the caller).
template <typename T>
struct DenseRow {
    const T *x;
    int64_t dim;

    // The fields are copied to locals first: the compiler cannot tell that a kernel's stores to
    // the model do not change them (no strict aliasing), and would reload them for every
    // element, which also keeps the loop from vectorising.
    template <class F>
    void for_each(F &&f) const {
        const T *const p = x;
        const int64_t n = dim;
        for (int64_t j = 0; j < n; ++j) f(j, double(p[j]));
    }
};

template <class Row>
struct is_dense_row : std::false_type {};
template <class T>
struct is_dense_row<DenseRow<T>> : std::true_type {};

// A sparse row: `nnz` strictly increasing 0-based indices below `dim`, with their values.
struct SparseRow {
    const int32_t *index;
    const double *value;
    int32_t nnz;
    int64_t dim;

    template <class F>
    void for_each(F &&f) const {
        const int32_t *const idx = index;
        const double *const val = value;
        const int32_t n = nnz;
        for (int32_t k = 0; k < n; ++k) f(int64_t(idx[k]), val[k]);
    }
};

}  // namespace bismarck::igd
