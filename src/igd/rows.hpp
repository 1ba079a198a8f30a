// The rows a model learns from: dense (float8[]/float4[], optionally standardised on the fly)
// and sparse (sorted 0-based indices with values). Every kernel is written once over `for_each`,
// so a model never cares which kind of row it is given.
#pragma once

#include <cstdint>

namespace bismarck::igd {

// A dense row read in place from its storage. When `mean` is set the row is standardised on the
// fly: value j is (x[j] - mean[j]) * inv_scale[j]; the stored data is never copied.
template <typename T>
struct DenseRow {
    const T *x;
    int64_t dim;
    const double *mean = nullptr;
    const double *inv_scale = nullptr;

    template <class F>
    void for_each(F &&f) const {
        if (mean) {
            for (int64_t j = 0; j < dim; ++j) f(j, (double(x[j]) - mean[j]) * inv_scale[j]);
        } else {
            for (int64_t j = 0; j < dim; ++j) f(j, double(x[j]));
        }
    }
};

// A sparse row: `nnz` strictly increasing 0-based indices below `dim`, with their values.
struct SparseRow {
    const int32_t *index;
    const double *value;
    int32_t nnz;
    int64_t dim;

    template <class F>
    void for_each(F &&f) const {
        for (int32_t k = 0; k < nnz; ++k) f(int64_t(index[k]), value[k]);
    }
};

}  // namespace bismarck::igd
