// Linear support vector machine: hinge loss on the margin m = y (w·x + b), labels in {-1, +1},
// L2 regularisation through `l2` (the classic SVM objective (l2/2)||w||^2 + mean hinge).
#pragma once

#include "igd/engine.hpp"

namespace bismarck::models {

struct Svm {
    static constexpr const char *name = "svm";

    // max(0, 1 - m)
    static double loss(double m) { return m < 1.0 ? 1.0 - m : 0.0; }

    // a subgradient of the hinge with respect to z: -y inside the margin, 0 outside
    static double gradient(double m, double y) { return m < 1.0 ? -y : 0.0; }

    // w <- w - alpha (subgradient + regularisers)
    // given the current score z = w·x + b
    template <class A, class Row>
    static void step(igd::LinearParams<A> w, const Row &x, double y, double z,
                     const igd::StepParams &s) {
        w.gradient_step(x, gradient(y * z, y), s);
    }
};

}  // namespace bismarck::models
