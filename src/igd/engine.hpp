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
#include "igd/rows.hpp"

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

// w·x (and v·x) over a dense array, in four independent running sums. One sum is a chain of
// dependent additions, each waiting for the last (~4 cycles); four chains overlap, and with plain
// access the compiler turns them into vector instructions. The order of additions is fixed, so
// results are reproducible.
template <class A, class T>
double dense_dot(const double *w, const T *x, int64_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += A::load(w + j) * double(x[j]);
        s1 += A::load(w + j + 1) * double(x[j + 1]);
        s2 += A::load(w + j + 2) * double(x[j + 2]);
        s3 += A::load(w + j + 3) * double(x[j + 3]);
    }
    for (; j < n; ++j) s0 += A::load(w + j) * double(x[j]);
    return (s0 + s1) + (s2 + s3);
}

template <class A, class T>
void dense_dot2(const double *w, const double *v, const T *x, int64_t n, double *wx, double *vx) {
    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0, b0 = 0.0, b1 = 0.0, b2 = 0.0, b3 = 0.0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const double x0 = double(x[j]), x1 = double(x[j + 1]), x2 = double(x[j + 2]),
                     x3 = double(x[j + 3]);
        a0 += A::load(w + j) * x0;
        a1 += A::load(w + j + 1) * x1;
        a2 += A::load(w + j + 2) * x2;
        a3 += A::load(w + j + 3) * x3;
        b0 += v[j] * x0;
        b1 += v[j + 1] * x1;
        b2 += v[j + 2] * x2;
        b3 += v[j + 3] * x3;
    }
    for (; j < n; ++j) {
        a0 += A::load(w + j) * double(x[j]);
        b0 += v[j] * double(x[j]);
    }
    *wx = (a0 + a1) + (a2 + a3);
    *vx = (b0 + b1) + (b2 + b3);
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
    template <class T>
    double margin(const DenseRow<T> &x) const {
        return dense_dot<A>(w, x.x, x.dim) + intercept();
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
        double *const p = w;  // a local: stores through it cannot change it (see DenseRow)
        if (s.l1 > 0.0) {
            const double t = s.alpha * s.l1;
            x.for_each([=](int64_t j, double v) {
                A::store(p + j, soft_threshold(shrink * A::load(p + j) + c * v, t));
            });
        } else {
            x.for_each(
                [=](int64_t j, double v) { A::store(p + j, shrink * A::load(p + j) + c * v); });
        }
        A::store(p + dim, A::load(p + dim) + c);
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
template <class A, class T>
Scores scores(const LinearParams<A> &w, const LinearParams<PlainAccess> &prev,
              const DenseRow<T> &x) {
    double z, z_prev;
    dense_dot2<A>(w.w, prev.w, x.x, x.dim, &z, &z_prev);
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

// Batched Hogwild. Each process runs plain steps on a private copy `local` of the shared model
// (the serial code path: no shared cache line is touched per row, and the loops vectorise), and
// every few rows exchanges it: what `local` moved since the last exchange (local - base) is added
// to the shared model with atomic adds, so no process's update is lost and no value torn, and
// the copy continues from the shared model's new value (which holds the other processes'
// updates). A process's own updates are never stale; the others' are at most one batch late.
//
// `base` and `local` are process-private; the first exchange of an epoch starts from a zero
// delta with base = local = the shared model (`pull`).
template <class A>
void pull(const double *shared, double *base, double *local, int64_t n) {
    for (int64_t k = 0; k < n; ++k) base[k] = local[k] = A::load(shared + k);
}

template <class A>
void exchange(double *shared, double *base, double *local, int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
        const double d = local[k] - base[k];
        base[k] = local[k] = d != 0.0 ? A::add(shared + k, d) : A::load(shared + k);
    }
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
