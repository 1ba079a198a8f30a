// The generic incremental-gradient-descent engine: what a step needs (step size, regularisers),
// the parameter view linear models share, step-size schedules and the convergence test.
// Models (src/models) supply a loss, its gradient and a prediction; this file supplies the rest.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

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

// The dense kernels of the hot loop (standardising a row, w·x, the step) come in two builds: the
// baseline x86-64 one (SSE2, two doubles per instruction) and, where the CPU has it, one with AVX2
// (four), chosen once per process (cpu_has_avx2). The AVX2 build has no FMA: every result is
// rounded exactly as in the baseline one (the same operations in the same order, only wider), so
// a model does not depend on the machine that trained it. The bodies (`*_body`) are written once
// and compiled into both.
#if defined(__x86_64__) && defined(__GNUC__)
#define BISMARCK_AVX2_KERNELS 1
#define BISMARCK_TARGET_AVX2 __attribute__((target("avx2")))
inline bool cpu_has_avx2() {
    static const bool has = [] {
        __builtin_cpu_init();
        return bool(__builtin_cpu_supports("avx2"));
    }();
    return has;
}
#else
inline bool cpu_has_avx2() {
    return false;
}
#endif
#define BISMARCK_INLINE_BODY [[gnu::always_inline]] inline

// w·x (and v·x) over a dense array, in four independent running sums. One sum is a chain of
// dependent additions, each waiting for the last (~4 cycles); four chains overlap, and with plain
// access the compiler turns them into vector instructions. The order of additions is fixed, so
// results are reproducible.
template <class A, class T>
BISMARCK_INLINE_BODY double dense_dot_body(const double *w, const T *x, int64_t n) {
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

// The dense step of one output with plain access and no L1, the hot loop of serial training:
//   w_j <- shrink w_j + c x_j
// and, averaging (see LinearParams::gradient_step), acc_j += t (new w_j - old w_j). The
// parameters, the accumulator and the row never overlap (restrict), so the loops vectorise
// without the run-time overlap checks the compiler would otherwise add per call.
template <class T>
BISMARCK_INLINE_BODY void dense_update_body(double *__restrict w, const T *__restrict x, int64_t n,
                                            double shrink, double c) {
    for (int64_t j = 0; j < n; ++j) w[j] = shrink * w[j] + c * double(x[j]);
}
template <class T>
BISMARCK_INLINE_BODY void dense_update_averaged_body(double *__restrict w, double *__restrict acc,
                                                     const T *__restrict x, int64_t n,
                                                     double shrink, double c, double t) {
    for (int64_t j = 0; j < n; ++j) {
        const double u = shrink * w[j] + c * double(x[j]);
        acc[j] += t * (u - w[j]);
        w[j] = u;
    }
}

// A dense row standardised into `out`: (x_j - mean_j) * inv_j.
template <class T>
BISMARCK_INLINE_BODY void standardize_body(const T *__restrict x, const double *__restrict mean,
                                           const double *__restrict inv, int64_t n,
                                           double *__restrict out) {
    for (int64_t j = 0; j < n; ++j) out[j] = (double(x[j]) - mean[j]) * inv[j];
}

#ifdef BISMARCK_AVX2_KERNELS
BISMARCK_TARGET_AVX2 inline double dense_dot_avx2(const double *w, const double *x, int64_t n) {
    return dense_dot_body<PlainAccess>(w, x, n);
}
BISMARCK_TARGET_AVX2 inline void dense_update_avx2(double *__restrict w, const double *__restrict x,
                                                   int64_t n, double shrink, double c) {
    dense_update_body(w, x, n, shrink, c);
}
BISMARCK_TARGET_AVX2 inline void dense_update_averaged_avx2(double *__restrict w,
                                                            double *__restrict acc,
                                                            const double *__restrict x, int64_t n,
                                                            double shrink, double c, double t) {
    dense_update_averaged_body(w, acc, x, n, shrink, c, t);
}
template <class T>
BISMARCK_TARGET_AVX2 inline void standardize_avx2(const T *__restrict x,
                                                  const double *__restrict mean,
                                                  const double *__restrict inv, int64_t n,
                                                  double *__restrict out) {
    standardize_body(x, mean, inv, n, out);
}
#endif

// The kernels, in the build this CPU runs (`avx2` false: the baseline one, for tests).
template <class A, class T>
double dense_dot(const double *w, const T *x, int64_t n, bool avx2 = cpu_has_avx2()) {
#ifdef BISMARCK_AVX2_KERNELS
    if constexpr (std::is_same_v<A, PlainAccess> && std::is_same_v<T, double>)
        if (avx2) return dense_dot_avx2(w, x, n);
#endif
    return dense_dot_body<A>(w, x, n);
}
template <class T>
void dense_update(double *__restrict w, const T *__restrict x, int64_t n, double shrink, double c,
                  bool avx2 = cpu_has_avx2()) {
#ifdef BISMARCK_AVX2_KERNELS
    if constexpr (std::is_same_v<T, double>)
        if (avx2) return dense_update_avx2(w, x, n, shrink, c);
#endif
    dense_update_body(w, x, n, shrink, c);
}
template <class T>
void dense_update_averaged(double *__restrict w, double *__restrict acc, const T *__restrict x,
                           int64_t n, double shrink, double c, double t,
                           bool avx2 = cpu_has_avx2()) {
#ifdef BISMARCK_AVX2_KERNELS
    if constexpr (std::is_same_v<T, double>)
        if (avx2) return dense_update_averaged_avx2(w, acc, x, n, shrink, c, t);
#endif
    dense_update_averaged_body(w, acc, x, n, shrink, c, t);
}
template <class T>
void standardize(const T *__restrict x, const double *__restrict mean, const double *__restrict inv,
                 int64_t n, double *__restrict out, bool avx2 = cpu_has_avx2()) {
#ifdef BISMARCK_AVX2_KERNELS
    if (avx2) return standardize_avx2(x, mean, inv, n, out);
#endif
    standardize_body(x, mean, inv, n, out);
}

// The parameters of a linear model: `outputs` rows of [w_0 .. w_dim-1, b] (one output for binary
// classifiers and regressions, one per class otherwise). `A` says how they are read and written
// (plain, or relaxed atomics for Hogwild).
template <class A>
struct LinearParams {
    double *w;
    int64_t dim;
    int32_t outputs = 1;

    double *row(int32_t k) const { return w + k * (dim + 1); }

    // w_k·x + b_k
    template <class Row>
    double score(int32_t k, const Row &x) const {
        const double *r = row(k);
        double s = 0.0;
        x.for_each([&](int64_t j, double v) { s += A::load(r + j) * v; });
        return s + A::load(r + dim);
    }
    template <class T>
    double score(int32_t k, const DenseRow<T> &x) const {
        const double *r = row(k);
        return dense_dot<A>(r, x.x, x.dim) + A::load(r + dim);
    }

    template <class Row>
    void scores(const Row &x, double *s) const {
        for (int32_t k = 0; k < outputs; ++k) s[k] = score(k, x);
    }

    // One step of output k along the gradient of loss_i + regularisers, given
    // g = d loss_i / d(w_k·x + b_k):
    //   w_kj <- prox_{alpha l1}( (1 - alpha l2) w_kj - alpha g x_j ),   b_k <- b_k - alpha g.
    // The regularisers are applied to the coordinates the row touches: for a dense row that is
    // every coordinate (the exact step); for a sparse row it is the lazy form of Hogwild and of
    // most sparse SGD codes, which keeps a step's cost proportional to the row's non-zeros.
    //
    // Averaging (Polyak-Ruppert, as Bottou's ASGD and scikit-learn's average=True): with `avg`
    // non-null, every change d of a parameter on step s (1-based, counted from where averaging
    // began) also adds (s - 1) d to avg; the average of the iterates w_1 .. w_T is then
    // w_T - avg / T (see averaged()). It costs one more stream over the same coordinates, so a
    // sparse row's step stays proportional to its non-zeros.
    template <class Row>
    void gradient_step(int32_t k, const Row &x, double g, const StepParams &s,
                       double *avg = nullptr, double t = 0.0) const {
        const double shrink = 1.0 - s.alpha * s.l2;
        const double c = -s.alpha * g;
        if (c == 0.0 && s.l2 == 0.0 && s.l1 == 0.0) return;  // e.g. a hinge outside the margin
        double *const p = row(k);  // a local: stores through it cannot change it (see DenseRow)
        const double l1 = s.alpha * s.l1;
        if constexpr (std::is_same_v<A, PlainAccess> && is_dense_row<Row>::value) {
            if (l1 == 0.0) {
                if (avg == nullptr) {
                    dense_update(p, x.x, x.dim, shrink, c);
                    p[dim] += c;
                } else {
                    double *const q = avg + k * (dim + 1);
                    dense_update_averaged(p, q, x.x, x.dim, shrink, c, t);
                    p[dim] += c;
                    q[dim] += t * c;
                }
                return;
            }
        }
        auto next = [=](double w, double v) {
            const double u = shrink * w + c * v;
            return l1 > 0.0 ? soft_threshold(u, l1) : u;
        };
        if (avg == nullptr) {
            x.for_each([=](int64_t j, double v) { A::store(p + j, next(A::load(p + j), v)); });
            A::store(p + dim, A::load(p + dim) + c);
        } else {
            // Shared by several processes (Hogwild), a store could erase another process's
            // update that its accumulator already counts: the change is added atomically instead.
            double *const q = avg + k * (dim + 1);
            x.for_each([=](int64_t j, double v) {
                const double w = A::load(p + j), u = next(w, v);
                if constexpr (std::is_same_v<A, PlainAccess>)
                    A::store(p + j, u);
                else
                    A::add(p + j, u - w);
                q[j] += t * (u - w);
            });
            A::add(p + dim, c);
            q[dim] += t * c;
        }
    }
};

// The average of the iterates w_1 .. w_T from the current parameters w_T and the accumulator of
// gradient_step: w_T - avg / T.
inline void averaged(const double *w, const double *avg, int64_t n, double T, double *out) {
    for (int64_t k = 0; k < n; ++k) out[k] = T > 0.0 ? w[k] - avg[k] / T : w[k];
}

// One row of a supervised linear model: its loss under the current model (the progressive loss,
// as scikit-learn's SGD and Vowpal Wabbit report it), then the model's gradient step. `scratch`
// holds 2 * outputs doubles (the scores, then the gradient).
// With `avg`, the step is averaged as step `t + 1` (see LinearParams::gradient_step).
// With `weight` (class weights), the row's loss and gradient count that many times.
//
// With `factor` (and no class weight), a model whose loss has a log(1 + e) term may leave it
// out of the returned loss and set *factor = 1 + e (loss_and_gradient_factored); otherwise
// *factor is left as it was (callers start it at 1).
template <class Model, class A, class Row>
double linear_step(const LinearParams<A> &w, const Row &x, double y, const StepParams &s,
                   double *scratch, double *avg = nullptr, double t = 0.0, double weight = 1.0,
                   double *factor = nullptr) {
    double *scores = scratch, *g = scratch + w.outputs;
    w.scores(x, scores);
    double loss;
    if constexpr (requires(double *p) { Model::loss_and_gradient_factored(p, 1, 0.0, p, p); }) {
        if (factor != nullptr && weight == 1.0)
            loss = Model::loss_and_gradient_factored(scores, w.outputs, y, g, factor);
        else
            loss = Model::loss_and_gradient(scores, w.outputs, y, g);
    } else {
        loss = Model::loss_and_gradient(scores, w.outputs, y, g);
    }
    for (int32_t k = 0; k < w.outputs; ++k) w.gradient_step(k, x, weight * g[k], s, avg, t);
    return weight * loss;
}

// The loss of one row under the model, without a step.
template <class Model, class A, class Row>
double linear_loss(const LinearParams<A> &w, const Row &x, double y, double *scratch) {
    w.scores(x, scratch);
    return Model::loss(scratch, w.outputs, y);
}

// Step size of epoch k (0-based): alpha0 * decay^k. decay = 1 is a constant step.
inline double step_size_at(double alpha0, double decay, int epoch) {
    return alpha0 * std::pow(decay, epoch);
}

// The step of row t (0-based, over all epochs) in Bottou's averaged SGD schedule for an objective
// with L2 strength l2: alpha / (1 + alpha l2 t)^(3/4). It decreases slowly enough for the average
// of the iterates to converge at the optimal rate (Xu 2011, "Towards optimal one pass large scale
// learning with averaged stochastic gradient descent"), and is constant without L2.
// u^(3/4) is sqrt(u) sqrt(sqrt(u)): two correctly rounded square roots (the same bits on every
// platform) at a fraction of the cost of pow, which ran once per row.
inline double step_size_per_row(double alpha, double l2, double t) {
    const double u = 1.0 + alpha * l2 * t;
    if (u == 1.0) return alpha;
    const double r = std::sqrt(u);
    return alpha / (r * std::sqrt(r));
}

// step_size_per_row for a run of consecutive rows, computed a block at a time: the same values
// (the same square roots and division, so the same bits; at u = 1 the formula gives alpha
// exactly), but in a loop of independent operations instead of a chain of two square roots and
// a division in every row's step. A row then loads its step.
struct PerRowSteps {
    static constexpr int kBlock = 256;
    double alpha = 0.0, l2 = 0.0, first = -1.0;  // the block: rows first .. first + kBlock - 1
    double step[kBlock];

    double at(double a, double lambda, double t) {
        if (!(t >= first && t < first + kBlock && a == alpha && lambda == l2)) {
            alpha = a;
            l2 = lambda;
            first = t;
            for (int i = 0; i < kBlock; ++i) {
                const double r = std::sqrt(1.0 + a * lambda * (t + i));
                step[i] = a / (r * std::sqrt(r));
            }
        }
        return step[int64_t(t - first)];
    }
};

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

// L2 and L1 terms of the objective of a linear model (the intercepts are not regularised).
inline double linear_penalty(const double *w, int64_t dim, int32_t outputs, double l2, double l1) {
    double sq = 0.0, ab = 0.0;
    for (int32_t k = 0; k < outputs; ++k) {
        const double *r = w + k * (dim + 1);
        for (int64_t j = 0; j < dim; ++j) {
            sq += r[j] * r[j];
            ab += std::abs(r[j]);
        }
    }
    return (l2 > 0.0 ? 0.5 * l2 * sq : 0.0) + (l1 > 0.0 ? l1 * ab : 0.0);
}

}  // namespace bismarck::igd
