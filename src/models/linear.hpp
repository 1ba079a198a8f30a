// What every linear model shares: k outputs s = W x + b (one row of W and one intercept per
// output), a loss of the scores and the label, and the rules that turn scores into predictions.
// A linear model file (logistic.hpp, svm.hpp, ...) says only its target, its number of outputs,
// its loss and the loss's gradient with respect to the scores; the engine does the rest.
//
//   target binary:  2 classes, 1 output, labels y in {-1, +1} (class 0 is -1); class 1 iff s > 0
//   target classes: k classes, k outputs, labels y = the class index 0 .. k-1; class argmax_k s_k
//   target real:    1 output, any real label; the prediction is s
#pragma once

#include <cmath>
#include <cstdint>

namespace bismarck::models {

enum class Target : uint8_t { binary, classes, real, cell };

inline const char *target_name(Target t) {
    switch (t) {
        case Target::binary:
            return "two classes";
        case Target::classes:
            return "three or more classes";
        case Target::real:
            return "a real value";
        case Target::cell:
            return "a matrix cell";
    }
    return "?";
}

// The parameters of a linear model with `outputs` outputs over `dim` features:
// row k is [w_k0 .. w_k,dim-1, b_k].
inline int64_t linear_params(int32_t outputs, int64_t dim) {
    return int64_t(outputs) * (dim + 1);
}

// The class a linear model predicts from its scores.
inline int32_t predicted_class(Target t, const double *s, int32_t outputs) {
    if (t == Target::binary) return s[0] > 0.0 ? 1 : 0;
    int32_t best = 0;
    for (int32_t k = 1; k < outputs; ++k)
        if (s[k] > s[best]) best = k;
    return best;
}

// The stored scalers folded into the weights, so that prediction on raw features is one dot
// product. The feature scaler (means m_j, inverse scales r_j): w'_kj = w_kj r_j,
// b'_k = b_k - sum_j w_kj r_j m_j. A regression's target scaler (the model learnt
// (y - mean) / scale): w' = scale w', b' = scale b' + mean.
inline void fold_scaler(const double *w, int32_t outputs, int64_t dim, const double *scaler,
                        double *out, double target_mean = 0.0, double target_scale = 1.0) {
    for (int32_t k = 0; k < outputs; ++k) {
        const double *row = w + k * (dim + 1);
        double *o = out + k * (dim + 1);
        double b = row[dim];
        for (int64_t j = 0; j < dim; ++j) {
            o[j] = scaler ? row[j] * scaler[dim + j] : row[j];
            if (scaler) b -= row[j] * scaler[dim + j] * scaler[j];
        }
        o[dim] = b;
        if (target_scale != 1.0 || target_mean != 0.0) {
            for (int64_t j = 0; j < dim; ++j) o[j] *= target_scale;
            o[dim] = o[dim] * target_scale + target_mean;
        }
    }
}

// log(1 + e^-m), without overflow for any margin.
inline double log1p_exp_neg(double m) {
    return m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
}

}  // namespace bismarck::models
