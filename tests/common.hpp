// What the unit tests share: seeded data sets, the exact objective of a linear model, SGD epochs
// run with the engine's own step (as an aggregate runs them), and a Newton solver for the
// softmax-type objectives whose optimum the convergence tests compare with.
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "igd/engine.hpp"
#include "igd/rows.hpp"
#include "models/registry.hpp"

namespace bismarck::testing {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A data set. `y` is +-1 for a binary target, the class index for a multiclass one, a real
// number for a regression.
struct Data {
    RowMatrix X;  // n x d
    Eigen::VectorXd y;
    int n() const { return int(X.rows()); }
    int d() const { return int(X.cols()); }
};

// A seeded, noisy, linearly-ish separable binary problem (labels +-1).
inline Data make_classification(int n, int d, uint64_t seed) {
    igd::SplitMix64 rng(seed);
    Eigen::VectorXd truth(d);
    for (int j = 0; j < d; ++j) truth[j] = rng.normal();
    Data data{RowMatrix(n, d), Eigen::VectorXd(n)};
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < d; ++j) data.X(i, j) = rng.normal();
        const double z = data.X.row(i).dot(truth) + 0.5 + 0.8 * rng.normal();
        data.y[i] = z > 0 ? 1.0 : -1.0;
    }
    return data;
}

// k classes: the class of a row is the argmax of noisy linear scores (labels 0 .. k-1).
inline Data make_multiclass(int n, int d, int k, uint64_t seed, double noise = 1.0) {
    igd::SplitMix64 rng(seed);
    Eigen::MatrixXd truth(k, d + 1);
    for (int64_t t = 0; t < truth.size(); ++t) truth.data()[t] = rng.normal();
    Data data{RowMatrix(n, d), Eigen::VectorXd(n)};
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < d; ++j) data.X(i, j) = rng.normal();
        int best = 0;
        double top = -INFINITY;
        for (int c = 0; c < k; ++c) {
            const double s =
                truth.row(c).head(d).dot(data.X.row(i)) + truth(c, d) + noise * rng.normal();
            if (s > top) top = s, best = c;
        }
        data.y[i] = best;
    }
    return data;
}

// y = x·truth + 1.5 + noise; features after `informative` have no effect on y.
inline Data make_regression(int n, int d, uint64_t seed, int informative, double noise = 0.5) {
    igd::SplitMix64 rng(seed);
    Eigen::VectorXd truth = Eigen::VectorXd::Zero(d);
    for (int j = 0; j < informative; ++j) truth[j] = rng.normal();
    Data data{RowMatrix(n, d), Eigen::VectorXd(n)};
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < d; ++j) data.X(i, j) = rng.normal();
        data.y[i] = data.X.row(i).dot(truth) + 1.5 + noise * rng.normal();
    }
    return data;
}

// The parameters of a linear model: `outputs` rows of [w, b], one flat array as in a state.
struct Weights {
    std::vector<double> w;
    int64_t dim;
    int32_t outputs;
    Weights(int64_t d, int32_t k) : w(size_t(k * (d + 1)), 0.0), dim(d), outputs(k) {}
    igd::LinearParams<igd::PlainAccess> params() { return {w.data(), dim, outputs}; }
    double *row(int32_t k) { return w.data() + k * (dim + 1); }
};

// The scores of row i, computed independently of the engine (with Eigen).
inline Eigen::VectorXd scores_of(const Data &data, const std::vector<double> &w, int32_t outputs,
                                 int i) {
    const int d = data.d();
    Eigen::Map<const RowMatrix> W(w.data(), outputs, d + 1);
    return W.leftCols(d) * data.X.row(i).transpose() + W.col(d);
}

// The exact objective (1/n) sum_i loss_i + (l2/2) ||W||^2 + l1 ||W||_1 (intercepts free).
template <class Model>
double objective(const Data &data, const std::vector<double> &w, int32_t outputs, double l2,
                 double l1 = 0.0) {
    double s = 0.0;
    for (int i = 0; i < data.n(); ++i) {
        const Eigen::VectorXd sc = scores_of(data, w, outputs, i);
        s += Model::loss(sc.data(), outputs, data.y[i]);
    }
    double sq = 0.0, ab = 0.0;
    for (int32_t k = 0; k < outputs; ++k)
        for (int j = 0; j < data.d(); ++j) {
            const double v = w[size_t(k * (data.d() + 1) + j)];
            sq += v * v;
            ab += std::abs(v);
        }
    return s / double(data.n()) + 0.5 * l2 * sq + l1 * ab;
}

// SGD epochs over the rows in order with the engine's own step, epoch e at step
// alpha0 * decay^e (the driver's schedule). `losses`, if given, receives each epoch's mean
// progressive loss (what an epoch reports).
template <class Model>
std::vector<double> sgd(const Data &data, int32_t outputs, double alpha0, double decay, int epochs,
                        double l2, double l1 = 0.0, std::vector<double> *losses = nullptr) {
    Weights w(data.d(), outputs);
    std::vector<double> scratch(2 * size_t(outputs));
    for (int e = 0; e < epochs; ++e) {
        const igd::StepParams s{igd::step_size_at(alpha0, decay, e), l2, l1, 0.0};
        double sum = 0.0;
        for (int i = 0; i < data.n(); ++i) {
            const igd::DenseRow<double> row{data.X.row(i).data(), data.d()};
            sum += igd::linear_step<Model>(w.params(), row, data.y[i], s, scratch.data());
        }
        if (losses) losses->push_back(sum / data.n());
    }
    return w.w;
}

// The minimiser of
//   (1/n) sum_i mu [ log sum_c e^{(s_ic + delta_ic) / mu} - (s_iy + delta_iy) / mu ] +
//   (l2/2)||W||^2
// over W (k rows of [w, b], intercepts not penalised), with delta_ic = margin [c != y_i], by
// damped Newton from `w` (which it updates). mu = 1, margin = 0 is multinomial logistic
// regression; margin = 1 is a smoothing of the Crammer-Singer hinge which lies within mu log k
// above it. The intercepts' common shift leaves the objective unchanged; a 1e-12 ridge on them
// makes the Newton system definite without moving the objective. Returns the objective.
inline double softmax_newton(const Data &data, int k, double l2, double mu, double margin,
                             std::vector<double> *w, int max_iterations = 100) {
    const int n = data.n(), d = data.d(), p = k * (d + 1);
    RowMatrix A(n, d + 1);
    A << data.X, Eigen::VectorXd::Ones(n);
    auto value = [&](const Eigen::VectorXd &theta, Eigen::VectorXd *g, Eigen::MatrixXd *H) {
        Eigen::Map<const RowMatrix> W(theta.data(), k, d + 1);
        const Eigen::MatrixXd S = A * W.transpose();  // n x k scores
        double f = 0.0;
        Eigen::MatrixXd Q(n, k);          // d f_i / d s_i
        std::vector<Eigen::MatrixXd> Hs;  // d^2 f_i / d s_i^2, per row
        if (H) Hs.resize(size_t(n));
        for (int i = 0; i < n; ++i) {
            const int y = int(data.y[i]);
            Eigen::VectorXd z(k);
            for (int c = 0; c < k; ++c) z[c] = (S(i, c) + (c == y ? 0.0 : margin)) / mu;
            const double top = z.maxCoeff();
            const Eigen::VectorXd e = (z.array() - top).exp();
            const double sum = e.sum();
            f += mu * (top + std::log(sum) - z[y]);
            const Eigen::VectorXd prob = e / sum;
            Q.row(i) = prob.transpose();
            Q(i, y) -= 1.0;
            if (H) {
                Hs[size_t(i)] = Eigen::MatrixXd(prob.asDiagonal()) - prob * prob.transpose();
                Hs[size_t(i)] /= mu;
            }
        }
        f /= n;
        double sq = 0.0;
        for (int c = 0; c < k; ++c) sq += W.row(c).head(d).squaredNorm();
        f += 0.5 * l2 * sq;
        if (g) {
            const Eigen::MatrixXd G = Q.transpose() * A / n;  // k x (d+1)
            g->resize(p);
            for (int c = 0; c < k; ++c)
                for (int j = 0; j <= d; ++j)
                    (*g)[c * (d + 1) + j] = G(c, j) + (j < d ? l2 * W(c, j) : 0.0);
        }
        if (H) {
            H->setZero(p, p);
            for (int c = 0; c < k; ++c)
                for (int c2 = c; c2 < k; ++c2) {
                    Eigen::VectorXd h(n);
                    for (int i = 0; i < n; ++i) h[i] = Hs[size_t(i)](c, c2);
                    const Eigen::MatrixXd B = A.transpose() * h.asDiagonal() * A / n;
                    H->block(c * (d + 1), c2 * (d + 1), d + 1, d + 1) = B;
                    H->block(c2 * (d + 1), c * (d + 1), d + 1, d + 1) = B;
                }
            for (int c = 0; c < k; ++c)
                for (int j = 0; j <= d; ++j)
                    (*H)(c * (d + 1) + j, c * (d + 1) + j) += j < d ? l2 : 1e-12;
        }
        return f;
    };
    Eigen::VectorXd theta = Eigen::Map<const Eigen::VectorXd>(w->data(), p);
    Eigen::VectorXd g;
    Eigen::MatrixXd H;
    double f = value(theta, &g, &H);
    for (int it = 0; it < max_iterations; ++it) {
        const Eigen::VectorXd step = H.ldlt().solve(g);
        // The Newton decrement squared, about twice the distance to the optimum's value: below
        // 1e-15 |f| the rest is rounding.
        const double decrement = g.dot(step);
        if (!(decrement > 1e-15 * std::max(1.0, std::abs(f)))) break;
        double t = 1.0, fn = 0.0;
        for (; t > 1e-12; t *= 0.5) {  // backtracking (Armijo)
            fn = value(theta - t * step, nullptr, nullptr);
            if (fn <= f - 0.25 * t * decrement) break;
        }
        if (t <= 1e-12) break;
        theta -= t * step;
        f = value(theta, &g, &H);
    }
    std::copy(theta.data(), theta.data() + p, w->begin());
    return f;
}

}  // namespace bismarck::testing
