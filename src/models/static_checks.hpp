// Compile-time checks of the model interfaces, with messages that say what is missing (after
// ensmallen's function/static_checks.hpp). A model that forgets a piece fails here, at its
// registry line, not deep inside the engine's templates.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "models/linear.hpp"

namespace bismarck::models {

template <class M>
constexpr bool check_linear_model() {
    static_assert(
        requires {
            { M::name } -> std::convertible_to<const char *>;
        },
        "a linear model needs `static constexpr const char *name`");
    static_assert(
        requires {
            { M::trainer } -> std::convertible_to<const char *>;
        },
        "a linear model needs `static constexpr const char *trainer`: the SQL function "
        "train_<trainer> that trains it");
    static_assert(
        requires {
            { M::target } -> std::convertible_to<Target>;
        },
        "a linear model needs `static constexpr Target target` (binary, classes, real)");
    static_assert(M::target != Target::cell, "a linear model's target cannot be a matrix cell");
    static_assert(
        requires {
            { M::probabilistic } -> std::convertible_to<bool>;
        },
        "a linear model needs `static constexpr bool probabilistic`");
    static_assert(
        requires(int32_t k) {
            { M::outputs(k) } -> std::same_as<int32_t>;
        },
        "a linear model needs `static int32_t outputs(int32_t classes)`: the rows of its "
        "weight matrix");
    static_assert(
        requires(const double *s, int32_t k, double y) {
            { M::loss(s, k, y) } -> std::same_as<double>;
        },
        "a linear model needs `static double loss(const double *scores, int32_t outputs, double "
        "label)`");
    static_assert(
        requires(const double *s, int32_t k, double y, double *g) {
            { M::loss_and_gradient(s, k, y, g) } -> std::same_as<double>;
        },
        "a linear model needs `static double loss_and_gradient(const double *scores, int32_t "
        "outputs, double label, double *gradient)`: the loss, and d loss / d score per output");
    if constexpr (M::probabilistic)
        static_assert(
            requires(const double *s, int32_t k, double *p) { M::probabilities(s, k, p); },
            "a probabilistic model needs `static void probabilities(const double *scores, int32_t "
            "outputs, double *p)`: one probability per class");
    return true;
}

template <class M>
constexpr bool check_factorization_model() {
    static_assert(
        requires {
            { M::name } -> std::convertible_to<const char *>;
        },
        "a factorization needs `static constexpr const char *name`");
    static_assert(M::target == Target::cell, "a factorization's target is a matrix cell");
    static_assert(
        requires(int64_t r, int64_t c, int64_t k) {
            { typename M::Shape{r, c, k}.size() } -> std::same_as<int64_t>;
        },
        "a factorization needs a Shape{rows, cols, rank} with size()");
    return true;
}

}  // namespace bismarck::models
