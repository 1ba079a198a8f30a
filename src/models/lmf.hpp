// Low-rank matrix factorization: a matrix with observed cells v_ij is approximated by
//   p_ij = mu + b_i + c_j + L_i · R_j
// (global mean mu, row and column biases, rank-k factor rows L_i and R_j), minimising
//   (1/n) sum_ij [ (p_ij - v_ij)^2 / 2 + (l2/2) (||L_i||^2 + ||R_j||^2 + b_i^2 + c_j^2) ]
// one observed cell at a time (the regulariser of a row or column counts once per observation).
// Factor rows are projected onto the L2 ball of radius `max_norm` after each step, as in the
// Bismarck paper, which keeps large steps from blowing up.
#pragma once

#include <cmath>
#include <cstdint>

#include "igd/engine.hpp"
#include "models/linear.hpp"

namespace bismarck::models {

struct Lmf {
    static constexpr const char *name = "lmf";
    static constexpr const char *trainer = "lmf";
    static constexpr Target target = Target::cell;

    // The parameter layout inside one flat array:
    //   [mu][b: rows][c: cols][L: rows x rank][R: cols x rank][seen: rows + cols]
    // `seen` marks the rows and columns that occurred in training; an unseen one is predicted
    // from what is known (the mean and the other side's bias), never from random factors.
    struct Shape {
        int64_t rows, cols, rank;
        int64_t size() const { return 1 + rows + cols + (rows + cols) * rank + rows + cols; }
        int64_t row_bias(int64_t i) const { return 1 + i; }
        int64_t col_bias(int64_t j) const { return 1 + rows + j; }
        int64_t row_factor(int64_t i) const { return 1 + rows + cols + i * rank; }
        int64_t col_factor(int64_t j) const { return 1 + rows + cols + (rows + j) * rank; }
        int64_t row_seen(int64_t i) const { return 1 + (rows + cols) * (rank + 1) + i; }
        int64_t col_seen(int64_t j) const { return 1 + (rows + cols) * (rank + 1) + rows + j; }
    };

    // Factors start small and random (seeded), biases at zero, mu at the mean of the values.
    static void initialise(double *p, const Shape &s, double mean, uint64_t seed) {
        igd::SplitMix64 rng(seed);
        const double scale = 0.1 / std::sqrt(double(s.rank));
        for (int64_t k = 0; k < s.size(); ++k) p[k] = 0.0;
        p[0] = mean;
        for (int64_t k = s.row_factor(0); k < s.row_seen(0); ++k) p[k] = scale * rng.normal();
    }

    // p_ij, from what is known: an unseen row or column contributes neither bias nor factors.
    template <class A>
    static double predict(const double *p, const Shape &s, int64_t i, int64_t j) {
        const bool row = i >= 0 && i < s.rows && A::load(p + s.row_seen(i)) != 0.0;
        const bool col = j >= 0 && j < s.cols && A::load(p + s.col_seen(j)) != 0.0;
        double v = A::load(p);
        if (row) v += A::load(p + s.row_bias(i));
        if (col) v += A::load(p + s.col_bias(j));
        if (row && col) {
            const double *l = p + s.row_factor(i), *r = p + s.col_factor(j);
            for (int64_t k = 0; k < s.rank; ++k) v += A::load(l + k) * A::load(r + k);
        }
        return v;
    }

    // What a user is told: p_ij clipped to the range of the values the model was trained on (a
    // rating model never predicts 5.9 stars on a 0.5-5 scale).
    template <class A>
    static double predict_clipped(const double *p, const Shape &s, int64_t i, int64_t j, double lo,
                                  double hi) {
        const double v = predict<A>(p, s, i, j);
        return v < lo ? lo : (v > hi ? hi : v);
    }

    // (p_ij - v)^2 / 2
    static double loss(double err) { return 0.5 * err * err; }

    // One observed cell: with e = p_ij - v,
    //   L_i <- L_i - alpha (e R_j + l2 L_i),  R_j <- R_j - alpha (e L_i + l2 R_j),
    //   b_i <- b_i - alpha (e + l2 b_i),      c_j <- c_j - alpha (e + l2 c_j),
    // then L_i and R_j are projected onto the ball of radius max_norm.
    template <class A>
    static void step(double *p, const Shape &s, int64_t i, int64_t j, double v,
                     const igd::StepParams &st) {
        A::store(p + s.row_seen(i), 1.0);
        A::store(p + s.col_seen(j), 1.0);
        double *l = p + s.row_factor(i), *r = p + s.col_factor(j);
        double pred = A::load(p) + A::load(p + s.row_bias(i)) + A::load(p + s.col_bias(j));
        for (int64_t k = 0; k < s.rank; ++k) pred += A::load(l + k) * A::load(r + k);
        const double e = pred - v, a = st.alpha, shrink = 1.0 - a * st.l2;
        double nl = 0.0, nr = 0.0;
        for (int64_t k = 0; k < s.rank; ++k) {
            const double lk = A::load(l + k), rk = A::load(r + k);
            const double l2 = shrink * lk - a * e * rk, r2 = shrink * rk - a * e * lk;
            A::store(l + k, l2);
            A::store(r + k, r2);
            nl += l2 * l2;
            nr += r2 * r2;
        }
        A::store(p + s.row_bias(i), shrink * A::load(p + s.row_bias(i)) - a * e);
        A::store(p + s.col_bias(j), shrink * A::load(p + s.col_bias(j)) - a * e);
        if (st.max_norm > 0.0) {
            project<A>(l, s.rank, nl, st.max_norm);
            project<A>(r, s.rank, nr, st.max_norm);
        }
    }

    // The objective's term for one observed cell: the squared error plus the regularisers of the
    // biases and factor rows it touches. This is the objective the per-cell steps descend (a row
    // seen often is regularised often), so summing it over a scan gives the exact objective.
    template <class A>
    static double cell_objective(const double *p, const Shape &s, int64_t i, int64_t j, double v,
                                 double l2) {
        const double e = predict<A>(p, s, i, j) - v;
        double sq = 0.0;
        if (l2 > 0.0) {
            const double bi = A::load(p + s.row_bias(i)), cj = A::load(p + s.col_bias(j));
            sq = bi * bi + cj * cj;
            const double *l = p + s.row_factor(i), *r = p + s.col_factor(j);
            for (int64_t k = 0; k < s.rank; ++k) {
                const double lk = A::load(l + k), rk = A::load(r + k);
                sq += lk * lk + rk * rk;
            }
        }
        return loss(e) + 0.5 * l2 * sq;
    }

  private:
    template <class A>
    static void project(double *f, int64_t rank, double norm2, double radius) {
        if (norm2 <= radius * radius) return;
        const double c = radius / std::sqrt(norm2);
        for (int64_t k = 0; k < rank; ++k) A::store(f + k, c * A::load(f + k));
    }
};

}  // namespace bismarck::models
