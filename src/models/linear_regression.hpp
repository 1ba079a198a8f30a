// Linear regression: squared loss on the residual r = s - y of the score s = w·x + b,
//   loss = r^2 / 2,   d loss / d s = r.
// With l2 this is ridge regression, with l1 the lasso, with both the elastic net.
#pragma once

#include "models/linear.hpp"

namespace bismarck::models {

struct LinearRegression {
    static constexpr const char *name = "linear_regression";
    static constexpr const char *trainer = "linear_regression";
    static constexpr Target target = Target::real;
    static constexpr bool probabilistic = false;
    static int32_t outputs(int32_t) { return 1; }

    static double loss(const double *s, int32_t, double y) {
        const double r = s[0] - y;
        return 0.5 * r * r;
    }

    static double loss_and_gradient(const double *s, int32_t, double y, double *g) {
        const double r = s[0] - y;
        g[0] = r;
        return 0.5 * r * r;
    }
};

}  // namespace bismarck::models
