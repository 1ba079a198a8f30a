// The model state, format 2: what validate_state accepts and rejects, the meta block's encoding,
// and the upgrade of a bismarck 0.1.0 (format 1) state.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "igd/state.hpp"
#include "models/registry.hpp"

using namespace bismarck;
using igd::ModelInfo;
using igd::StateHeader;
namespace meta = igd::meta;

namespace {

// A state's bytes, in doubles so that the block is aligned as PostgreSQL's would be.
struct State {
    std::vector<double> storage;
    size_t len;
    char *bytes() { return reinterpret_cast<char *>(storage.data()); }
    StateHeader *header() { return reinterpret_cast<StateHeader *>(storage.data()); }
    char *meta() { return const_cast<char *>(igd::state_meta(header())); }
    std::string validate(size_t n) const {
        return igd::validate_state(storage.data(), n, models::params_for);
    }
    std::string validate() const { return validate(len); }
};

ModelInfo linear_model(models::Task task, int32_t outputs, int64_t dim) {
    ModelInfo m{};
    m.task = uint8_t(task);
    m.outputs = outputs;
    m.dim = dim;
    m.n_params = models::linear_params(outputs, dim);
    m.alpha = 0.1;
    m.value_min = -INFINITY;
    m.value_max = INFINITY;
    m.target_scale = 1.0;
    return m;
}

// A state of model `m` with meta block `meta_block` (already encoded and padded), `n_work` work
// doubles, its parameters (unless shared) and scaler filled with recognisable values.
State make_state(const ModelInfo &m, const std::string &meta_block, int64_t n_work = 0,
                 bool shared = false) {
    StateHeader h{};
    h.magic = igd::kStateMagic;
    h.version = igd::kStateVersion;
    h.model = m;
    h.model.meta_bytes = int64_t(meta_block.size());
    h.epoch.n_work = n_work;
    h.epoch.flags = shared ? igd::kShared : 0;
    State s{std::vector<double>((igd::state_bytes(h) + 7) / 8 + 1, 0.0), igd::state_bytes(h)};
    std::memcpy(s.bytes(), &h, sizeof h);
    double *p = igd::state_params(s.header());
    const int64_t body = (shared ? 0 : m.n_params) + m.n_scaler;
    for (int64_t k = 0; k < body; ++k) p[k] = 0.25 * double(k + 1);
    std::memcpy(s.meta(), meta_block.data(), meta_block.size());
    return s;
}

State binary_state() {
    return make_state(linear_model(models::Task::logistic, 1, 3),
                      meta::encode({{meta::label_type, {"integer"}}, {meta::classes, {"0", "1"}}}));
}

void expect_rejected(const State &s, const std::string &why, size_t len) {
    const std::string got = s.validate(len);
    EXPECT_FALSE(got.empty()) << "expected a rejection: " << why;
    EXPECT_NE(got.find(why), std::string::npos) << "expected '" << why << "', got '" << got << "'";
}
void expect_rejected(const State &s, const std::string &why) {
    expect_rejected(s, why, s.len);
}

}  // namespace

// Ported from format 1: the basic rejections.
TEST(State, ValidationRejectsMalformedBlocks) {
    State s = make_state(linear_model(models::Task::logistic, 1, 3), "");
    StateHeader *h = s.header();
    EXPECT_EQ(s.validate(), "");
    EXPECT_NE(s.validate(s.len - 1), "");
    EXPECT_NE(s.validate(10), "");
    h->model.n_params = 5;
    EXPECT_NE(s.validate(), "");
    h->model.n_params = 4;
    h->model.task = 9;
    EXPECT_NE(s.validate(), "");
    h->model.task = 1;
    h->model.alpha = std::nan("");
    EXPECT_NE(s.validate(), "");
    h->model.alpha = 0.1;
    EXPECT_EQ(s.validate(), "");
}

TEST(State, ValidationRejectsTruncation) {
    const State s = binary_state();
    ASSERT_EQ(s.validate(), "");
    for (size_t n = 0; n < sizeof(StateHeader); n += 7) expect_rejected(s, "truncated", n);
    for (size_t n = sizeof(StateHeader); n < s.len; ++n) EXPECT_NE(s.validate(n), "") << n;
}

TEST(State, ValidationRejectsABadMagic) {
    State s = binary_state();
    s.header()->magic ^= 1;
    expect_rejected(s, "bad magic");
}

TEST(State, ValidationRejectsAnUnknownVersion) {
    State s = binary_state();
    for (uint8_t v : {0, 1, 3, 255}) {
        s.header()->version = v;
        expect_rejected(s, "version " + std::to_string(v) + " is not supported");
    }
}

TEST(State, ValidationRejectsMismatchedCounts) {
    auto reject = [](auto change, const char *why) {
        State s = binary_state();
        ASSERT_EQ(s.validate(), "");
        change(s);
        expect_rejected(s, why);
    };
    // parameters that do not match the shape
    reject([](State &s) { s.header()->model.n_params = 5; }, "does not match its shape");
    reject([](State &s) { s.header()->model.dim = 4; }, "does not match its shape");
    reject([](State &s) { s.header()->model.n_params = 0; }, "invalid parameter count");
    // a binary model with two outputs, a linear one with a matrix shape
    reject([](State &s) { s.header()->model.outputs = 2; }, "");
    reject([](State &s) { s.header()->model.rows = 2; }, "");
    reject([](State &s) { s.header()->model.outputs = 0; }, "invalid shape");
    // a scaler that is neither absent nor 2 * dim
    reject([](State &s) { s.header()->model.n_scaler = 3; }, "invalid scaler");
    // blocks whose sizes do not add up to the length
    reject([](State &s) { s.header()->model.n_scaler = 6; }, "size does not match");
    reject([](State &s) { s.header()->epoch.n_work = 1; }, "size does not match");
    reject([](State &s) { s.header()->model.meta_bytes += 8; }, "size does not match");
    reject([](State &s) { s.header()->model.meta_bytes -= 8; }, "");
    reject([](State &s) { s.header()->model.meta_bytes = 12; }, "invalid meta block");
    reject([](State &s) { s.header()->model.meta_bytes = -8; }, "invalid meta block");
    reject([](State &s) { s.header()->epoch.flags |= igd::kShared; }, "size does not match");
    reject([](State &s) { s.header()->epoch.rows_seen = -1; }, "invalid counters");
    reject([](State &s) { s.header()->epoch.parallelism = 4; }, "unknown parallelism");
    reject([](State &s) { s.header()->epoch.loss_sum = NAN; }, "NaN loss");
    reject([](State &s) { s.header()->model.l2 = -1; }, "invalid option");
    reject([](State &s) { s.header()->model.value_min = NAN; }, "invalid value range");
    reject([](State &s) { s.header()->model.target_scale = 0.0; }, "invalid target scale");
    reject([](State &s) { s.header()->model.target_mean = INFINITY; }, "invalid target scale");
}

// A multiclass model's outputs are its classes, at least 3 and at most kMaxClasses.
TEST(State, ValidationChecksTheOutputsOfAMulticlassModel) {
    for (int32_t k : {3, 7, int32_t(igd::kMaxClasses)})
        EXPECT_EQ(make_state(linear_model(models::Task::multinomial, k, 2), "").validate(), "")
            << k;
    for (int32_t k : {1, 2})
        EXPECT_NE(make_state(linear_model(models::Task::multinomial, k, 2), "").validate(), "")
            << k;
    ModelInfo m = linear_model(models::Task::multiclass_svm, 4, 2);
    m.outputs = int32_t(igd::kMaxClasses) + 1;
    m.n_params = models::linear_params(m.outputs, m.dim);
    EXPECT_NE(make_state(m, "").validate(), "");
}

TEST(State, ValidationRejectsAMalformedMetaBlock) {
    // A section whose string runs past the end of the block: "abc" claims 200 bytes.
    std::string block = meta::encode({{meta::features, {"abc"}}});
    ASSERT_EQ(block.size(), 16u);
    const uint32_t long_item = 200;
    std::memcpy(&block[8], &long_item, 4);
    expect_rejected(make_state(linear_model(models::Task::logistic, 1, 3), block),
                    "malformed meta block");

    // A section that claims more strings than the block holds.
    block = meta::encode({{meta::features, {"abc"}}});
    const uint32_t many = 1000;
    std::memcpy(&block[4], &many, 4);
    expect_rejected(make_state(linear_model(models::Task::logistic, 1, 3), block),
                    "malformed meta block");

    // Garbage after the padding: the zero tag starts the padding, and the rest must be zeros.
    block = meta::encode({{meta::label_type, {"integer"}}});  // 19 bytes, padded to 24
    ASSERT_EQ(block.size(), 24u);
    block[23] = 'x';
    expect_rejected(make_state(linear_model(models::Task::logistic, 1, 3), block),
                    "malformed meta block");
    block = meta::encode({{meta::label_type, {"integer"}}}) + std::string(8, '\0');
    block[28] = 1;
    expect_rejected(make_state(linear_model(models::Task::logistic, 1, 3), block),
                    "malformed meta block");

    // A section header cut short by the end of the block.
    block = meta::encode({{meta::label_type, {"text"}}});  // 16 bytes, no padding
    ASSERT_EQ(block.size(), 16u);
    block += std::string("\x03\0\0\0\x01\0\0\0", 8);  // tag 3, one string, no room for its length
    expect_rejected(make_state(linear_model(models::Task::logistic, 1, 3), block),
                    "malformed meta block");
}

TEST(State, ValidationRejectsTooManyClasses) {
    std::vector<std::string> classes;
    for (int64_t c = 0; c <= igd::kMaxClasses; ++c) classes.push_back(std::to_string(c));
    const ModelInfo m = linear_model(models::Task::multinomial, 3, 2);
    expect_rejected(make_state(m, meta::encode({{meta::classes, classes}})), "too many classes");
    classes.pop_back();
    EXPECT_EQ(make_state(m, meta::encode({{meta::classes, classes}})).validate(), "");
}

// The work block holds at most the averaging accumulator and batched Hogwild's two copies
// (base, local): three models.
TEST(State, ValidationRejectsTooLargeAWorkBlock) {
    const ModelInfo m = linear_model(models::Task::logistic, 1, 3);  // 4 parameters
    EXPECT_EQ(make_state(m, "", 8).validate(), "");
    EXPECT_EQ(make_state(m, "", 12).validate(), "");
    expect_rejected(make_state(m, "", 13), "invalid work block");
    expect_rejected(make_state(m, "", -1), "invalid work block");
    // a length that would match a huge block (the size check alone would wrap around)
    State s = make_state(m, "");
    s.header()->epoch.n_work = int64_t(1) << 61;
    expect_rejected(s, "invalid work block");
}

TEST(State, ValidationRejectsAnAveragingStateWithoutItsAccumulator) {
    const ModelInfo m = linear_model(models::Task::multinomial, 3, 2);  // 9 parameters
    State s = make_state(m, "", 9);
    s.header()->epoch.flags |= igd::kAveraging;
    s.header()->epoch.avg_steps = 1000;
    EXPECT_EQ(s.validate(), "");
    s.header()->epoch.avg_steps = -1;
    expect_rejected(s, "averaging");
    State t = make_state(m, "", 8);
    t.header()->epoch.flags |= igd::kAveraging;
    expect_rejected(t, "averaging");
}

TEST(State, ValidationAcceptsAWellFormedStateWithMetaSections) {
    ModelInfo m = linear_model(models::Task::multiclass_svm, 3, 4);
    m.n_scaler = 8;
    const std::string block = meta::encode({
        {meta::label_type, {"text"}},
        {meta::classes, {"setosa", "versicolor", "virginica"}},
        {meta::features, {"sepal_length", "sepal_width", "petal_length", "petal_width"}},
        {meta::transform, {std::string("\x01\x00\x02", 3)}},
        {99, {}},  // an unknown tag is carried, not rejected
    });
    for (bool shared : {false, true}) {
        State s = make_state(m, block, 2 * m.n_params, shared);
        EXPECT_EQ(s.validate(), "") << shared;
        // the blocks are where the accessors say
        const double *scaler = igd::state_scaler(s.header());
        ASSERT_NE(scaler, nullptr);
        EXPECT_EQ(scaler[0], 0.25 * ((shared ? 0 : m.n_params) + 1));
        std::vector<meta::Section> sections;
        ASSERT_TRUE(meta::decode(s.meta(), block.size(), &sections));
        ASSERT_EQ(sections.size(), 5u);
        EXPECT_EQ(*meta::find(sections, meta::classes),
                  (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
        EXPECT_EQ(meta::find(sections, meta::features)->size(), 4u);
        EXPECT_EQ(meta::find(sections, 42), nullptr);
        EXPECT_EQ(reinterpret_cast<char *>(igd::state_work(s.header())),
                  s.bytes() + s.len - sizeof(double) * size_t(2 * m.n_params));
    }
    // a factorization, no meta at all
    ModelInfo f{};
    f.task = uint8_t(models::Task::lmf);
    f.outputs = 1;
    f.dim = 2;
    f.rows = 3;
    f.cols = 4;
    f.n_params = (models::Lmf::Shape{3, 4, 2}).size();
    f.alpha = 0.1;
    f.target_scale = 1.0;
    EXPECT_EQ(make_state(f, "").validate(), "");
}

// The meta block of a two-class model built by <trainer>_init (label type 'integer', classes
// '0', '1') is 37 bytes before its 3 bytes of padding: a padding shorter than a tag is padding.
TEST(State, ValidationAcceptsPaddingShorterThanATag) {
    State s = binary_state();
    EXPECT_EQ(s.header()->model.meta_bytes, 40);
    EXPECT_EQ(s.validate(), "");
}

TEST(Meta, EncodeDecodeRoundTrips) {
    const std::vector<std::vector<meta::Section>> cases = {
        {},
        {{meta::classes, {}}},
        {{meta::classes, {""}}},
        {{meta::label_type, {"text"}}, {meta::classes, {"日本語", "Ünïcödé", "🐘", "naïve café"}}},
        {{meta::features, {std::string("a\0b", 3), std::string(5, '\0'), std::string("\0", 1)}}},
        {{meta::transform, {std::string(1000, 'x')}}, {meta::classes, {"no", "yes"}}},
    };
    for (size_t c = 0; c < cases.size(); ++c) {
        const std::string block = meta::encode(cases[c]);
        EXPECT_EQ(block.size() % 8, 0u) << c;
        std::vector<meta::Section> back;
        ASSERT_TRUE(meta::decode(block.data(), block.size(), &back)) << c;
        ASSERT_EQ(back.size(), cases[c].size()) << c;
        for (size_t k = 0; k < back.size(); ++k) {
            EXPECT_EQ(back[k].tag, cases[c][k].tag) << c;
            EXPECT_EQ(back[k].items, cases[c][k].items) << c;
        }
    }
    EXPECT_EQ(meta::encode({}), "");
}

// Every amount of padding (0 to 7 bytes) decodes.
TEST(Meta, DecodeAcceptsEveryPaddingLength) {
    for (size_t len = 0; len < 16; ++len) {
        const std::vector<meta::Section> in = {{meta::classes, {std::string(len, 'c')}}};
        const std::string block = meta::encode(in);
        std::vector<meta::Section> back;
        EXPECT_TRUE(meta::decode(block.data(), block.size(), &back)) << len;
        ASSERT_EQ(back.size(), 1u) << len;
        EXPECT_EQ(back[0].items, in[0].items);
    }
}

// ----------------------------------------------------------------------------------------------
// upgrade_v1

namespace {

// A bismarck 0.1.0 state: header, params, scaler, then (flag 1) a prev block.
std::vector<char> v1_state(uint8_t task, int64_t dim, int64_t rows, int64_t cols, int64_t n_params,
                           int64_t n_scaler, bool prev) {
    igd::StateHeaderV1 v{};
    v.magic = igd::kStateMagic;
    v.version = 1;
    v.task = task;
    v.flags = prev ? 1 : 0;
    v.epoch = 12;
    v.dim = dim;
    v.rows = rows;
    v.cols = cols;
    v.n_params = n_params;
    v.n_scaler = n_scaler;
    v.alpha = 0.03;
    v.l2 = 1e-4;
    v.l1 = 2e-5;
    v.max_norm = task == 3 ? 5.0 : 0.0;
    v.seed = 42;
    v.rows_seen = 1000;
    v.loss_sum = 123.0;
    const int64_t doubles = n_params * (prev ? 2 : 1) + n_scaler;
    std::vector<char> out(sizeof v + sizeof(double) * size_t(doubles));
    std::memcpy(out.data(), &v, sizeof v);
    igd::SplitMix64 rng(7);
    for (int64_t k = 0; k < doubles; ++k) {
        // params, scaler, prev: values that compare bit for bit (a -0.0 and a subnormal too)
        double x = rng.normal();
        if (k == 1) x = -0.0;
        if (k == 2) x = 4.9e-324;
        std::memcpy(out.data() + sizeof v + 8 * size_t(k), &x, 8);
    }
    return out;
}

std::vector<char> upgrade(const std::vector<char> &v1, std::string *why,
                          const std::vector<std::string> &classes = {"no", "yes"}) {
    return igd::upgrade_v1(v1.data(), v1.size(), "text", classes, why);
}

}  // namespace

TEST(UpgradeV1, LinearModelKeepsParamsScalerAndOptionsAndCarriesClasses) {
    for (uint8_t task : {1, 2})
        for (bool prev : {false, true}) {
            const int64_t dim = 4;
            const std::vector<char> v1 = v1_state(task, dim, 0, 0, dim + 1, 2 * dim, prev);
            std::string why;
            const std::vector<char> v2 = upgrade(v1, &why);
            ASSERT_FALSE(v2.empty()) << why;
            // aligned, as PostgreSQL would hold it
            std::vector<double> aligned((v2.size() + 7) / 8);
            std::memcpy(aligned.data(), v2.data(), v2.size());
            EXPECT_EQ(igd::validate_state(aligned.data(), v2.size(), models::params_for), "");
            const auto *h = reinterpret_cast<const StateHeader *>(aligned.data());
            EXPECT_EQ(h->version, igd::kStateVersion);
            EXPECT_EQ(h->model.task, task);
            EXPECT_EQ(h->model.outputs, 1);
            EXPECT_EQ(h->model.dim, dim);
            EXPECT_EQ(h->model.n_params, dim + 1);
            EXPECT_EQ(h->model.n_scaler, 2 * dim);
            EXPECT_EQ(h->model.alpha, 0.03);
            EXPECT_EQ(h->model.l2, 1e-4);
            EXPECT_EQ(h->model.l1, 2e-5);
            EXPECT_EQ(h->model.seed, 42u);
            EXPECT_EQ(h->model.epochs, 12);
            EXPECT_EQ(h->model.target_mean, 0.0);
            EXPECT_EQ(h->model.target_scale, 1.0);
            // the epoch part is dropped, and so is the prev block
            EXPECT_EQ(h->epoch.rows_seen, 0);
            EXPECT_EQ(h->epoch.loss_sum, 0.0);
            EXPECT_EQ(h->epoch.n_work, 0);
            EXPECT_EQ(h->epoch.flags, 0);
            // params and scaler bit for bit
            EXPECT_EQ(std::memcmp(igd::state_params(h), v1.data() + sizeof(igd::StateHeaderV1),
                                  sizeof(double) * size_t(3 * dim + 1)),
                      0);
            EXPECT_EQ(igd::state_scaler(h), igd::state_params(h) + dim + 1);
            // the classes given, with the label type
            std::vector<meta::Section> sections;
            ASSERT_TRUE(meta::decode(igd::state_meta(h), size_t(h->model.meta_bytes), &sections));
            ASSERT_NE(meta::find(sections, meta::classes), nullptr);
            EXPECT_EQ(*meta::find(sections, meta::classes),
                      (std::vector<std::string>{"no", "yes"}));
            ASSERT_NE(meta::find(sections, meta::label_type), nullptr);
            EXPECT_EQ(*meta::find(sections, meta::label_type), std::vector<std::string>{"text"});
        }
}

// What bismarck's read_state passes for every 0.1.0 model: label type 'integer', classes 0, 1.
TEST(UpgradeV1, UpgradedStateWithIntegerClassesValidates) {
    const std::vector<char> v1 = v1_state(1, 3, 0, 0, 4, 0, false);
    std::string why;
    const std::vector<char> v2 = igd::upgrade_v1(v1.data(), v1.size(), "integer", {"0", "1"}, &why);
    ASSERT_FALSE(v2.empty()) << why;
    std::vector<double> aligned((v2.size() + 7) / 8);
    std::memcpy(aligned.data(), v2.data(), v2.size());
    EXPECT_EQ(igd::validate_state(aligned.data(), v2.size(), models::params_for), "");
}

TEST(UpgradeV1, FactorizationKeepsItsParamsAndHasNoClasses) {
    const models::Lmf::Shape s{5, 6, 2};
    const std::vector<char> v1 = v1_state(3, s.rank, s.rows, s.cols, s.size(), 0, true);
    std::string why;
    const std::vector<char> v2 = upgrade(v1, &why);
    ASSERT_FALSE(v2.empty()) << why;
    std::vector<double> aligned((v2.size() + 7) / 8);
    std::memcpy(aligned.data(), v2.data(), v2.size());
    EXPECT_EQ(igd::validate_state(aligned.data(), v2.size(), models::params_for), "");
    const auto *h = reinterpret_cast<const StateHeader *>(aligned.data());
    EXPECT_EQ(h->model.rows, 5);
    EXPECT_EQ(h->model.cols, 6);
    EXPECT_EQ(h->model.max_norm, 5.0);
    EXPECT_EQ(h->model.meta_bytes, 0);
    EXPECT_EQ(std::memcmp(igd::state_params(h), v1.data() + sizeof(igd::StateHeaderV1),
                          sizeof(double) * size_t(s.size())),
              0);
}

TEST(UpgradeV1, RejectsMalformedInput) {
    auto rejected = [](const std::vector<char> &v1) {
        std::string why;
        const std::vector<char> out = upgrade(v1, &why);
        return out.empty() && !why.empty();
    };
    const std::vector<char> good = v1_state(1, 3, 0, 0, 4, 6, true);
    ASSERT_FALSE(rejected(good));
    // short: an empty block, a cut header, a cut body
    EXPECT_TRUE(rejected({}));
    EXPECT_TRUE(rejected(std::vector<char>(good.begin(), good.begin() + 100)));
    EXPECT_TRUE(rejected(std::vector<char>(good.begin(), good.end() - 8)));
    // a longer body than the header says
    std::vector<char> longer = good;
    longer.resize(longer.size() + 8);
    EXPECT_TRUE(rejected(longer));
    // header fields that do not fit
    auto with = [&](auto change) {
        std::vector<char> v = good;
        igd::StateHeaderV1 h;
        std::memcpy(&h, v.data(), sizeof h);
        change(h);
        std::memcpy(v.data(), &h, sizeof h);
        return v;
    };
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.magic = 0; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.version = 2; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.n_params = 0; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.n_params = -4; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.n_params = 5; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.n_scaler = -6; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.n_scaler = 1LL << 60; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.task = 0; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.task = 4; })));
    // a shared-memory state (flag 2) holds no parameters to upgrade
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.flags = 2; })));
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.flags = 3; })));
    // without the prev flag, the prev block is trailing bytes
    EXPECT_TRUE(rejected(with([](igd::StateHeaderV1 &h) { h.flags = 0; })));
}

// upgrade_v1 checks only what it needs to copy; a shape that does not fit is caught by
// validate_state on the upgraded state, as read_state does.
TEST(UpgradeV1, ShapeErrorsAreCaughtByValidation) {
    const std::vector<char> v1 = v1_state(1, 5, 0, 0, 4, 0, false);  // dim 5 with 4 params
    std::string why;
    const std::vector<char> v2 = upgrade(v1, &why);
    ASSERT_FALSE(v2.empty()) << why;
    std::vector<double> aligned((v2.size() + 7) / 8);
    std::memcpy(aligned.data(), v2.data(), v2.size());
    EXPECT_NE(igd::validate_state(aligned.data(), v2.size(), models::params_for), "");
}

// The parameters follow the header directly and are read as doubles in place: the header must
// keep them 8-byte aligned. Format 1 is on disk in 0.1.0 catalogs: its layout never changes.
TEST(State, HeadersKeepTheLayoutTheirFormatsPromise) {
    EXPECT_EQ(sizeof(StateHeader) % alignof(double), 0u);
    EXPECT_EQ(offsetof(StateHeader, magic), 4u);
    EXPECT_EQ(offsetof(StateHeader, version), 8u);
    EXPECT_EQ(sizeof(igd::StateHeaderV1), 160u);
    EXPECT_EQ(offsetof(igd::StateHeaderV1, dim), 16u);
    EXPECT_EQ(offsetof(igd::StateHeaderV1, n_params), 40u);
    EXPECT_EQ(offsetof(igd::StateHeaderV1, alpha), 56u);
    EXPECT_EQ(offsetof(igd::StateHeaderV1, seed), 88u);
    EXPECT_EQ(offsetof(igd::StateHeaderV1, loss_sum), 128u);
}
