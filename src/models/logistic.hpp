// Logistic regression: labels y in {-1, +1}, score z = w·x + b, margin m = y z.
#pragma once

#include <cmath>

#include "igd/engine.hpp"

namespace bismarck::models {

struct Logistic {
    static constexpr const char *name = "logistic";

    // log(1 + e^-m), computed without overflow for any margin.
    static double loss(double m) {
        return m > 0 ? std::log1p(std::exp(-m)) : -m + std::log1p(std::exp(m));
    }

    // d loss / d z = -y / (1 + e^m)
    static double gradient(double m, double y) { return -y / (1.0 + std::exp(m)); }

    // w <- w - alpha (grad loss + regularisers)
    // given the current score z = w·x + b
    template <class A, class Row>
    static void step(igd::LinearParams<A> w, const Row &x, double y, double z,
                     const igd::StepParams &s) {
        w.gradient_step(x, gradient(y * z, y), s);
    }

    // P(y = +1 | x) = 1 / (1 + e^-z)
    static double probability(double z) { return 1.0 / (1.0 + std::exp(-z)); }
};

}  // namespace bismarck::models
