// The generic incremental-gradient-descent engine: what a step needs (step size, regularisers),
// the parameter view linear models share, step-size schedules and the convergence test.
// Models (src/models) supply a loss, its gradient and a prediction; this file supplies the rest.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "igd/access.hpp"

namespace bismarck::igd {

// A user-facing error detected by the engine (bad option, divergence). The PostgreSQL boundary
// turns it into ereport(ERROR) with SQLSTATE 22023 (invalid parameter value) or as given.
struct Error : std::runtime_error {
    enum class Kind { invalid_parameter, data_exception, diverged };
    Kind kind;
    Error(Kind k, const std::string &msg) : std::runtime_error(msg), kind(k) {}
};

// What one gradient step needs. `l2` and `l1` are the coefficients of the objective
//   (1/n) sum_i loss_i(w) + (l2/2) ||w||^2 + l1 ||w||_1
// (the intercept and biases are not regularised).
struct StepParams {
    double alpha = 0.1;  // step size of this epoch
    double l2 = 0.0;
    double l1 = 0.0;
    double max_norm = 0.0;  // LMF: radius of the L2 ball factor rows are projected on (0: none)
};

// Proximal step of the L1 norm (soft thresholding): exact zeros for small coordinates.
inline double soft_threshold(double v, double t) {
    return v > t ? v - t : (v < -t ? v + t : 0.0);
}

// The parameters of a linear model over `dim` features: w[0..dim) then the intercept w[dim].
// `A` says how they are read and written (plain, or relaxed atomics for Hogwild).
template <class A>
struct LinearParams {
    double *w;
    int64_t dim;

    double intercept() const { return A::load(w + dim); }

    // w·x + b
    template <class Row>
    double margin(const Row &x) const {
        double s = 0.0;
        x.for_each([&](int64_t j, double v) { s += A::load(w + j) * v; });
        return s + intercept();
    }

    // One step along the gradient of loss_i + regularisers, given g = d loss_i / d(w·x + b):
    //   w_j <- prox_{alpha l1}( (1 - alpha l2) w_j - alpha g x_j ),   b <- b - alpha g.
    // The regularisers are applied to the coordinates the row touches: for a dense row that is
    // every coordinate (the exact step); for a sparse row it is the lazy form of Hogwild and of
    // most sparse SGD codes, which keeps a step's cost proportional to the row's non-zeros.
    template <class Row>
    void gradient_step(const Row &x, double g, const StepParams &s) {
        const double shrink = 1.0 - s.alpha * s.l2;
        const double c = -s.alpha * g;
        if (c == 0.0 && s.l2 == 0.0 && s.l1 == 0.0) return;  // e.g. a hinge outside the margin
        if (s.l1 > 0.0) {
            const double t = s.alpha * s.l1;
            x.for_each([&](int64_t j, double v) {
                A::store(w + j, soft_threshold(shrink * A::load(w + j) + c * v, t));
            });
        } else {
            x.for_each(
                [&](int64_t j, double v) { A::store(w + j, shrink * A::load(w + j) + c * v); });
        }
        A::store(w + dim, A::load(w + dim) + c);
    }
};

// Step size of epoch k (0-based): alpha0 * decay^k. decay = 1 is a constant step.
inline double step_size_at(double alpha0, double decay, int epoch) {
    return alpha0 * std::pow(decay, epoch);
}

// The step sizes `auto` tries on a sample, largest first (Bottou's calibration).
inline constexpr double kCalibrationSteps[] = {3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001};

// Convergence by relative change of the objective between two consecutive epochs.
inline bool converged(double previous, double current, double tolerance) {
    if (!(tolerance > 0.0) || !std::isfinite(previous) || !std::isfinite(current)) return false;
    const double scale = std::max(std::abs(previous), 1e-12);
    return std::abs(previous - current) / scale < tolerance;
}

// A deterministic generator (splitmix64) so that seeded runs are identical on every platform;
// std:: distributions are not specified bit for bit across standard libraries.
struct SplitMix64 {
    uint64_t state;
    explicit SplitMix64(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double normal() {                                              // Box-Muller
        const double u1 = 1.0 - uniform(), u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
};

}  // namespace bismarck::igd

namespace bismarck::igd {

// The scores w·x + b of the current model and of the previous epoch's model, in one pass.
struct Scores {
    double current, previous;
};
template <class A, class Row>
Scores scores(const LinearParams<A> &w, const LinearParams<PlainAccess> &prev, const Row &x) {
    double z = 0.0, z_prev = 0.0;
    x.for_each([&](int64_t j, double v) {
        z += A::load(w.w + j) * v;
        z_prev += prev.w[j] * v;
    });
    return {z + w.intercept(), z_prev + prev.intercept()};
}

// One row of a supervised linear model: the loss of the previous epoch's model `prev` on the row
// is returned (so that an epoch reports the exact objective of the model it started from, in the
// same scan), and the current model `w` takes its gradient step.
template <class Model, class A, class Row>
double supervised_step(LinearParams<A> w, const LinearParams<PlainAccess> &prev, const Row &x,
                       double y, const StepParams &s) {
    const Scores z = scores(w, prev, x);
    Model::step(w, x, y, z.current, s);
    return Model::loss(y * z.previous);
}

// The same row for a batched Hogwild step: the scores and the loss as above, but the update
// -alpha g x is added to a process-local `pending` block instead of the shared model; the caller
// applies the block every few rows (apply_pending), so that processes contend for the model's
// cache lines once per batch rather than once per row.
template <class Model, class A, class Row>
double supervised_gradient(const LinearParams<A> &w, const LinearParams<PlainAccess> &prev,
                           const Row &x, double y, double alpha, double *pending) {
    const Scores z = scores(w, prev, x);
    const double c = -alpha * Model::gradient(y * z.current, y);
    if (c != 0.0) {
        x.for_each([&](int64_t j, double v) { pending[j] += c * v; });
        pending[w.dim] += c;
    }
    return Model::loss(y * z.previous);
}

// Applies `rows` rows' batched updates to the model and clears them: the regularisers' shrink
// and soft threshold of those rows are applied at once.
template <class A>
void apply_pending(LinearParams<A> w, double *pending, int64_t rows, const StepParams &s) {
    const double shrink = std::max(0.0, 1.0 - double(rows) * s.alpha * s.l2);
    const double t = double(rows) * s.alpha * s.l1;
    for (int64_t j = 0; j < w.dim; ++j) {
        const double v = shrink * A::load(w.w + j) + pending[j];
        A::store(w.w + j, t > 0.0 ? soft_threshold(v, t) : v);
        pending[j] = 0.0;
    }
    A::store(w.w + w.dim, A::load(w.w + w.dim) + pending[w.dim]);
    pending[w.dim] = 0.0;
}

// L2 and L1 terms of the objective of a linear model (the intercept is not regularised).
inline double linear_penalty(const double *w, int64_t dim, double l2, double l1) {
    double sq = 0.0, ab = 0.0;
    for (int64_t j = 0; j < dim; ++j) {
        sq += w[j] * w[j];
        ab += std::abs(w[j]);
    }
    return 0.5 * l2 * sq + l1 * ab;
}

}  // namespace bismarck::igd
