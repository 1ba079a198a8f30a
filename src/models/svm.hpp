// Linear support vector machine: hinge loss on the margin m = y (w·x + b), labels in {-1, +1},
// L2 regularisation through `l2` (the classic SVM objective (l2/2)||w||^2 + mean hinge):
//   loss = max(0, 1 - m),   a subgradient d loss / d s = -y inside the margin, 0 outside.
#pragma once

#include "models/linear.hpp"

namespace bismarck::models {

struct Svm {
    static constexpr const char *name = "svm";
    static constexpr const char *trainer = "svm";
    static constexpr Target target = Target::binary;
    static constexpr bool probabilistic = false;
    static int32_t outputs(int32_t) { return 1; }

    static double loss(const double *s, int32_t, double y) {
        const double m = y * s[0];
        return m < 1.0 ? 1.0 - m : 0.0;
    }

    static double loss_and_gradient(const double *s, int32_t k, double y, double *g) {
        const double l = loss(s, k, y);
        g[0] = l > 0.0 ? -y : 0.0;
        return l;
    }
};

}  // namespace bismarck::models
