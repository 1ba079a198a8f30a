// Binary logistic regression: labels y in {-1, +1}, score s = w·x + b, margin m = y s,
//   loss = log(1 + e^-m),   d loss / d s = -y / (1 + e^m),   P(class 1) = 1 / (1 + e^-s).
#pragma once

#include "models/linear.hpp"

namespace bismarck::models {

struct Logistic {
    static constexpr const char *name = "logistic";
    static constexpr const char *trainer = "logistic";  // trained by train_logistic
    static constexpr Target target = Target::binary;
    static constexpr bool probabilistic = true;
    static int32_t outputs(int32_t /*classes*/) { return 1; }

    static double loss(const double *s, int32_t, double y) { return log1p_exp_neg(y * s[0]); }

    // One exp for both (this runs once per row of every epoch): with e = e^-|m|,
    // 1 / (1 + e^m) is e / (1 + e) for m > 0 and 1 / (1 + e) otherwise, and the loss is
    // log1p(e), plus -m for m <= 0 (neither form overflows).
    static double loss_and_gradient(const double *s, int32_t, double y, double *g) {
        const double m = y * s[0];
        const double e = std::exp(-std::abs(m));
        if (m > 0.0) {
            g[0] = -y * e / (1.0 + e);
            return std::log1p(e);
        }
        g[0] = -y / (1.0 + e);
        return -m + std::log1p(e);
    }

    // The same, with the loss's log term left as a factor for the epoch to multiply with other
    // rows' (one log per many rows instead of a log1p per row, see igd::EpochInfo::loss_product):
    // the loss is the value returned plus log(*factor). log(1 + e) differs from log1p(e) by at
    // most an ulp of 1 (about 1e-16), which only matters to a loss nobody sums.
    static double loss_and_gradient_factored(const double *s, int32_t, double y, double *g,
                                             double *factor) {
        const double m = y * s[0];
        const double e = std::exp(-std::abs(m));
        const double q = 1.0 + e;
        *factor = q;
        if (m > 0.0) {
            g[0] = -y * e / q;
            return 0.0;
        }
        g[0] = -y / q;
        return -m;
    }

    // p[0] = P(class 0), p[1] = P(class 1)
    static void probabilities(const double *s, int32_t, double *p) {
        p[1] = 1.0 / (1.0 + std::exp(-s[0]));
        p[0] = 1.0 / (1.0 + std::exp(s[0]));
    }
};

}  // namespace bismarck::models
