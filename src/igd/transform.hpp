// How the columns of a row become a linear model's feature vector x (issue 11), free of
// PostgreSQL: the driver learns a Transform from the data, stores it in the model state's meta
// block (section meta::transform), and training and prediction replay it through encode_*, so a
// row is turned into the same x in both.
//
// Each input column is one of:
//   number    a number or a boolean: one feature, x_j = the value (NULL: the training mean under
//             on_null => 'impute')
//   array     a numeric array of a fixed length n: n features, x_j.. = the elements (a NULL
//             element or array: the element's training mean under 'impute')
//   category  anything text-like: one feature per category kept (the most frequent ones, at most
//             max_categories); x = 1 for the row's category, 0 for the others; a category not
//             kept, or unseen in training, is all zeros; NULL is the category 'missing' under
//             'impute'
//
// The meta section's items: "transform-1", the on_null mode, then per column: its kind, name and
// SQL type, then for a number its mean (8 raw bytes), for an array its length (decimal) and its
// element means (8 raw bytes each), for a category its number of categories (decimal) and each
// category's text form.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "igd/state.hpp"

namespace bismarck::igd {

// The text of the category a NULL becomes under on_null => 'impute' (scikit-learn's
// SimpleImputer(strategy="constant") default).
inline constexpr const char *kMissingCategory = "missing";

struct FeatureColumn {
    enum class Kind : uint8_t { number, array, category };
    Kind kind = Kind::number;
    std::string name;                     // the column's name in the source
    std::string type;                     // its SQL type, as format_type gives it
    std::vector<double> means;            // number: 1; array: one per element
    std::vector<std::string> categories;  // category: the one-hot categories, in x's order
    std::unordered_map<std::string, int32_t> index;  // category -> position (built on decode)

    int64_t width() const {
        return kind == Kind::category ? int64_t(categories.size()) : int64_t(means.size());
    }
    // The position of a category among the one-hot features, or -1 (not kept, or unseen).
    int32_t category_index(const char *s, size_t len) const {
        auto it = index.find(std::string(s, len));
        return it == index.end() ? -1 : it->second;
    }
    void build_index() {
        index.clear();
        for (size_t i = 0; i < categories.size(); ++i) index.emplace(categories[i], int32_t(i));
    }
};

struct Transform {
    bool impute = false;  // on_null => 'impute' (else a NULL input makes the row unusable)
    std::vector<FeatureColumn> columns;

    int64_t dim() const {
        int64_t d = 0;
        for (const FeatureColumn &c : columns) d += c.width();
        return d;
    }

    // One display name per feature: "age", "x[3]", "state=CA".
    std::vector<std::string> feature_names() const {
        std::vector<std::string> out;
        for (const FeatureColumn &c : columns) {
            switch (c.kind) {
                case FeatureColumn::Kind::number:
                    out.push_back(c.name);
                    break;
                case FeatureColumn::Kind::array:
                    for (size_t j = 0; j < c.means.size(); ++j)
                        out.push_back(c.name + "[" + std::to_string(j + 1) + "]");
                    break;
                case FeatureColumn::Kind::category:
                    for (const std::string &v : c.categories) out.push_back(c.name + "=" + v);
                    break;
            }
        }
        return out;
    }

    meta::Section section() const {
        meta::Section s{meta::transform, {"transform-1", impute ? "impute" : "skip"}};
        auto raw = [](const double *v, size_t n) {
            return std::string(reinterpret_cast<const char *>(v), n * sizeof(double));
        };
        for (const FeatureColumn &c : columns) {
            switch (c.kind) {
                case FeatureColumn::Kind::number:
                    s.items.insert(s.items.end(), {"number", c.name, c.type});
                    s.items.push_back(raw(c.means.data(), 1));
                    break;
                case FeatureColumn::Kind::array:
                    s.items.insert(s.items.end(), {"array", c.name, c.type});
                    s.items.push_back(std::to_string(c.means.size()));
                    s.items.push_back(raw(c.means.data(), c.means.size()));
                    break;
                case FeatureColumn::Kind::category:
                    s.items.insert(s.items.end(), {"category", c.name, c.type});
                    s.items.push_back(std::to_string(c.categories.size()));
                    s.items.insert(s.items.end(), c.categories.begin(), c.categories.end());
                    break;
            }
        }
        return s;
    }

    // Parses a transform section; returns false on anything malformed.
    static bool parse(const std::vector<std::string> &items, Transform *out) {
        *out = Transform{};
        if (items.size() < 2 || items[0] != "transform-1") return false;
        if (items[1] != "impute" && items[1] != "skip") return false;
        out->impute = items[1] == "impute";
        size_t at = 2;
        auto count = [&](int64_t *n) {
            if (at >= items.size() || items[at].empty() || items[at].size() > 9) return false;
            for (char ch : items[at])
                if (ch < '0' || ch > '9') return false;
            *n = std::stoll(items[at++]);
            return true;
        };
        int64_t total = 0;
        while (at < items.size()) {
            if (items.size() - at < 4) return false;
            FeatureColumn c;
            const std::string &kind = items[at];
            c.name = items[at + 1];
            c.type = items[at + 2];
            at += 3;
            if (kind == "number") {
                if (items[at].size() != sizeof(double)) return false;
                c.means.resize(1);
                std::memcpy(c.means.data(), items[at++].data(), sizeof(double));
            } else if (kind == "array") {
                c.kind = FeatureColumn::Kind::array;
                int64_t n;
                if (!count(&n) || n < 1 || at >= items.size() ||
                    items[at].size() != size_t(n) * sizeof(double))
                    return false;
                c.means.resize(size_t(n));
                std::memcpy(c.means.data(), items[at++].data(), size_t(n) * sizeof(double));
            } else if (kind == "category") {
                c.kind = FeatureColumn::Kind::category;
                int64_t n;
                if (!count(&n) || int64_t(items.size() - at) < n) return false;
                c.categories.assign(items.begin() + at, items.begin() + at + n);
                at += size_t(n);
                c.build_index();
                if (c.index.size() != c.categories.size()) return false;  // duplicates
            } else {
                return false;
            }
            total += c.width();
            if (total > kMaxParams) return false;
            out->columns.push_back(std::move(c));
        }
        return !out->columns.empty();
    }

    // The transform of a model state's meta block, if it has one.
    static bool from_meta(const std::vector<meta::Section> &sections, Transform *out) {
        const auto *items = meta::find(sections, meta::transform);
        return items && parse(*items, out);
    }
};

}  // namespace bismarck::igd
