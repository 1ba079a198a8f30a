// Multinomial (softmax) logistic regression over k classes: one score s_c = w_c·x + b_c per
// class, labels y = the class index,
//   P(c | x) = e^{s_c} / sum_j e^{s_j},   loss = log sum_j e^{s_j} - s_y,
//   d loss / d s_c = P(c | x) - [c = y].
// (The parameters are over-complete, one row per class, as in scikit-learn's multinomial
// LogisticRegression; the L2 penalty makes the optimum unique.)
#pragma once

#include <algorithm>

#include "models/linear.hpp"

namespace bismarck::models {

struct Multinomial {
    static constexpr const char *name = "multinomial";
    static constexpr const char *trainer = "logistic";
    static constexpr Target target = Target::classes;
    static constexpr bool probabilistic = true;
    static int32_t outputs(int32_t classes) { return classes; }

    // max_j s_j and log sum_j e^{s_j - max}: the log-sum-exp without overflow
    static double log_sum_exp(const double *s, int32_t k) {
        const double top = *std::max_element(s, s + k);
        double sum = 0.0;
        for (int32_t c = 0; c < k; ++c) sum += std::exp(s[c] - top);
        return top + std::log(sum);
    }

    static double loss(const double *s, int32_t k, double y) {
        return log_sum_exp(s, k) - s[int32_t(y)];
    }

    static double loss_and_gradient(const double *s, int32_t k, double y, double *g) {
        const double lse = log_sum_exp(s, k);
        for (int32_t c = 0; c < k; ++c) g[c] = std::exp(s[c] - lse);
        g[int32_t(y)] -= 1.0;
        return lse - s[int32_t(y)];
    }

    static void probabilities(const double *s, int32_t k, double *p) {
        const double lse = log_sum_exp(s, k);
        for (int32_t c = 0; c < k; ++c) p[c] = std::exp(s[c] - lse);
    }
};

}  // namespace bismarck::models
