// Multiclass linear SVM of Crammer and Singer (JMLR 2001): one score per class, and the hinge on
// the gap between the true class and the best other one,
//   loss = max(0, 1 + max_{c != y} s_c - s_y),
// whose subgradient, when positive, is +1 on the best wrong class and -1 on the true one.
// Chosen over one-vs-rest because it is one joint objective (the classes' scores are trained to
// be comparable, where k separate binary SVMs are not), it is what scikit-learn's LinearSVC
// offers as multi_class='crammer_singer', and one row costs two weight-row updates, not k.
#pragma once

#include "models/linear.hpp"

namespace bismarck::models {

struct MulticlassSvm {
    static constexpr const char *name = "multiclass_svm";
    static constexpr const char *trainer = "svm";
    static constexpr Target target = Target::classes;
    static constexpr bool probabilistic = false;
    static int32_t outputs(int32_t classes) { return classes; }

    // the best wrong class
    static int32_t rival(const double *s, int32_t k, int32_t y) {
        int32_t best = y == 0 ? 1 : 0;
        for (int32_t c = 0; c < k; ++c)
            if (c != y && s[c] > s[best]) best = c;
        return best;
    }

    static double loss(const double *s, int32_t k, double y) {
        const int32_t t = int32_t(y);
        const double l = 1.0 + s[rival(s, k, t)] - s[t];
        return l > 0.0 ? l : 0.0;
    }

    static double loss_and_gradient(const double *s, int32_t k, double y, double *g) {
        const int32_t t = int32_t(y), r = rival(s, k, t);
        for (int32_t c = 0; c < k; ++c) g[c] = 0.0;
        const double l = 1.0 + s[r] - s[t];
        if (l <= 0.0) return 0.0;
        g[r] = 1.0;
        g[t] = -1.0;
        return l;
    }
};

}  // namespace bismarck::models
