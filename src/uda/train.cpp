// The training driver: bismarck.train_logistic, train_svm, train_linear_regression and
// train_lmf. Every training run is the same short pipeline of named steps:
//
//   inputs      resolve the source and its columns, check their types
//   statistics  one scan: row count, NULLs, feature means and scales, the target's scale;
//               classifiers: the classes (one GROUP BY)
//   shuffle     a seeded, physically shuffled copy (or the source as it is)
//   step size   given, or calibrated on a sample of the shuffled rows
//   epochs      one aggregate query each: NOTICE, a row in training_log, step decay,
//               convergence test, interrupts
//   final loss  one loss-only scan of the final model
//   save        the model and its options, in the catalog, in the caller's transaction
//
// Nothing here knows a model: the registry says which task a trainer runs for a label, how many
// outputs it has, and its epoch aggregate is bismarck.<trainer>_epoch.
//
// Everything a run creates (the scratch table, the shared-memory segment, GUC changes, catalog
// rows) belongs to the caller's transaction, so an error or a cancel at any point leaves nothing.
#include "uda/catalog.hpp"
#include "uda/distributed.hpp"
#include "uda/features.hpp"
#include "uda/progress.hpp"
#include "uda/shared_model.hpp"
#include "uda/spi.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

#include <chrono>
#include <cmath>
#include <iomanip>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace bismarck::uda {
namespace {

using igd::Parallelism;
using models::Target;
using models::Task;

using igd::kEvalOnly;
using igd::kNoDivergence;
using igd::kNullIsError;

std::string fmt(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}

// ---- arguments, read by name: every train_* declares the options it takes in SQL, in any order

struct Args {
    FunctionCallInfo fcinfo;
    std::vector<std::string> names;

    int index(const char *name) const {
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return int(i);
        return -1;
    }
    bool has(const char *name) const {
        const int i = index(name);
        return i >= 0 && !PG_ARGISNULL(i);
    }
    Datum get(const char *name) const { return PG_GETARG_DATUM(index(name)); }
    std::string text(const char *name, const char *if_null = nullptr) const {
        if (!has(name)) {
            if (if_null) return if_null;
            fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
        }
        char *s = nullptr;
        pg_call(
            [&] { s = text_to_cstring(reinterpret_cast<::text *>(DatumGetPointer(get(name)))); });
        return s;
    }
    double number(const char *name, double if_null) const {
        return has(name) ? DatumGetFloat8(get(name)) : if_null;
    }
};

Args args_of(FunctionCallInfo fcinfo) {
    Args a{fcinfo, {}};
    pg_call([&] {
        HeapTuple tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
        if (!HeapTupleIsValid(tp)) elog(ERROR, "cache lookup failed for function");
        Oid *types;
        char **names, *modes;
        const int n = get_func_arg_info(tp, &types, &names, &modes);
        for (int i = 0; i < n; ++i) a.names.emplace_back(names && names[i] ? names[i] : "");
        ReleaseSysCache(tp);
    });
    return a;
}

// Options every training function takes.
struct Options {
    int epochs = 20;
    bool epochs_given = false;
    int patience = 5;
    double max_seconds = 0.0;       // 0: no time budget
    double validation = 0.0;        // a fraction of the rows held out by the shuffle
    std::string validation_column;  // or a boolean column: true = a validation row
    std::string init_model;         // warm start from this model
    double step = 0.0;              // 0: auto
    double decay = 0.95;
    double l2 = 0.0, l1 = 0.0;
    bool l2_given = false;
    double tolerance = 1e-4;
    std::string shuffle = "auto";
    std::string parallelism = "serial";
    int workers = -1;
    int64_t seed = 0;
    std::string on_null = "skip";
    bool replace = false;
};

double checked(double v, const char *name, double lo, bool lo_open) {
    if (!std::isfinite(v) || v < lo || (lo_open && v == lo))
        fail(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be " +
                                                  (lo_open ? "greater than " : "at least ") +
                                                  fmt(lo) + ", not " + fmt(v));
    return v;
}

template <class... T>
std::string one_of(const std::string &v, const char *name, T... allowed) {
    if (((v == allowed) || ...)) return v;
    std::string list;
    int i = 0;
    ((list +=
      (i++ ? (i == int(sizeof...(T)) ? " or '" : ", '") : "'") + std::string(allowed) + "'"),
     ...);
    fail(ERRCODE_INVALID_PARAMETER_VALUE,
         std::string(name) + " must be " + list + ", not '" + v + "'");
}

Options read_options(const Args &a) {
    Options o;
    if (a.has("epochs")) {
        o.epochs = DatumGetInt32(a.get("epochs"));
        o.epochs_given = true;
    }
    if (a.has("patience")) o.patience = DatumGetInt32(a.get("patience"));
    if (o.patience < 1 || o.patience > 100000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "patience must be between 1 and 100000, not " + std::to_string(o.patience));
    if (o.epochs < 1 || o.epochs > 100000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "epochs must be between 1 and 100000, not " + std::to_string(o.epochs));
    o.step = a.number("step_size", 0.0);  // bismarck.step_size: 0 is 'auto'
    if (a.has("decay")) o.decay = checked(a.number("decay", 1), "decay", 0.0, true);
    if (o.decay > 1.0) fail(ERRCODE_INVALID_PARAMETER_VALUE, "decay must be at most 1");
    if (a.has("l2")) {
        o.l2 = checked(a.number("l2", 0), "l2", 0.0, false);
        o.l2_given = true;
    }
    if (a.has("l1")) o.l1 = checked(a.number("l1", 0), "l1", 0.0, false);
    if (a.has("tolerance")) o.tolerance = checked(a.number("tolerance", 0), "tolerance", 0, false);
    o.shuffle = one_of(a.text("shuffle", "auto"), "shuffle", "auto", "once", "never", "every_epoch",
                       "blocks");
    o.parallelism = one_of(a.text("parallelism", "serial"), "parallelism", "serial",
                           "shared_memory", "shared_memory_locked", "model_averaging");
    if (a.has("workers")) {
        o.workers = DatumGetInt32(a.get("workers"));
        if (o.workers < 0 || o.workers > 64)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "workers must be between 0 and 64, not " + std::to_string(o.workers));
    }
    if (a.has("seed")) {
        o.seed = DatumGetInt64(a.get("seed"));
    } else {
        std::random_device rd;
        o.seed = int64_t((uint64_t(rd()) << 31 ^ rd()) & 0x7fffffffffffull);
    }
    o.on_null = one_of(a.text("on_null", "skip"), "on_null", "skip", "impute", "error");
    if (a.has("validation")) {
        o.validation = a.number("validation", 0);
        if (!(o.validation > 0.0 && o.validation <= 0.5))
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "validation must be a fraction greater than 0 and at most 0.5, not " +
                     fmt(o.validation),
                 {}, "Or name a boolean column with validation_column.");
    }
    o.validation_column = a.text("validation_column", "");
    if (o.validation > 0.0 && !o.validation_column.empty())
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "give validation or validation_column, not both");
    if (a.has("max_seconds"))
        o.max_seconds = checked(a.number("max_seconds", 0), "max_seconds", 0.0, true);
    o.init_model = a.text("init_model", "");
    if (a.has("replace")) o.replace = DatumGetBool(a.get("replace"));
    return o;
}

Parallelism parallelism_of(const std::string &p) {
    if (p == "shared_memory") return Parallelism::shared_memory;
    if (p == "shared_memory_locked") return Parallelism::shared_memory_locked;
    if (p == "model_averaging") return Parallelism::model_averaging;
    return Parallelism::serial;
}

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 32) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// A SQL array literal of strings: {"a","b"} (quote it with spi::literal to use it in SQL).
std::string array_literal(const std::vector<std::string> &items) {
    std::string out = "{";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ",";
        out += "\"";
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += "\"";
    }
    return out + "}";
}

// A column of the source: its quoted name and type, or an error naming it.
struct Column {
    std::string name, sql;
    Oid type;
};

Column column(Oid relid, const std::string &source_name, const std::string &name,
              const char *role) {
    AttrNumber att = InvalidAttrNumber;
    Oid type = InvalidOid;
    pg_call([&] {
        att = get_attnum(relid, name.c_str());
        if (att != InvalidAttrNumber) type = get_atttype(relid, att);
    });
    if (att == InvalidAttrNumber || att < 0)
        fail(ERRCODE_UNDEFINED_COLUMN, std::string(role) + " column \"" + name + "\" of relation " +
                                           source_name + " does not exist");
    return {name, spi::ident(name), type};
}

Oid bismarck_type(const char *name) {
    Oid t = InvalidOid;
    pg_call([&] {
        t = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum(name),
                            ObjectIdGetDatum(get_namespace_oid("bismarck", false)));
    });
    return t;
}

std::string type_name(Oid t) {
    char *n = nullptr;
    pg_call([&] { n = format_type_be(t); });
    return n;
}

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void notice(const std::string &msg) {
    pg_call([&] { ereport(NOTICE, (errmsg("%s", msg.c_str()))); });
}

// ---- one training run -----------------------------------------------------------------------

struct Summary {
    double validation_loss;
    int64_t rows, skipped, dim;
    int classes;
    int epochs;
    double loss, step, seconds;
    bool converged;
    int workers;
};

struct Run {
    std::string trainer;  // train_<trainer>; its aggregate is bismarck.<trainer>_epoch
    Task task{};
    std::string model, source_sql;
    Oid relid = InvalidOid;
    Options opt;
    spi::GucScope gucs;               // the run's settings, put back when it returns
    std::vector<std::string> inputs;  // SQL expressions over the source, in the step's order
    std::vector<std::string> input_names;
    std::string not_null;  // a WHERE clause keeping rows with no NULL input
    // The WHERE clause of the epochs' scans of the source in place ('never', 'blocks'). Where
    // the features are one column read as it is, the steps skip and count the rows with a NULL
    // input themselves (features, label, or an array element: igd::kSkipNullElements), and this
    // is "true" (or what a validation column adds): IS NOT NULL tests on every row of every
    // epoch cost 3% of an epoch, a search of each array for NULL elements 15%. `sample_filter`
    // keeps the rows with non-NULL features and label: the samples that calibrate the step size.
    std::string epoch_filter, sample_filter;
    // NULL inputs the epochs' scans pass to the steps (at most the statistics scan's `skipped`)
    bool steps_skip_nulls = false;
    int64_t rows = 0, skipped = 0;
    int64_t sample_rows = 2000;
    MemoryContext context = nullptr;  // lives for the call; states are copied here
    Oid state_type = InvalidOid;
    int counter = 0;
    std::string table;         // the scratch copy, or the source itself (shuffle never)
    std::string sample_table;  // the same, where the step size's samples are drawn
    distributed::Source dist;  // a Citus distributed source: every step runs on its shards
    distributed::Scan scan;    // `table` as relation, columns and filter (for samples)
    std::vector<std::string> tables_made;
    double loss_scale = 1.0;       // the reported loss is in the raw target's units
    bool average = false;          // average the iterates from the second epoch on
    std::string validation_sql;    // a boolean expression over the source: a validation row
    std::string validation_table;  // the validation rows, projected as the training rows are
    catalog::Record record;        // what is saved
    std::string options_json;      // model-specific options, appended to the common ones

    std::string new_table_name() {
        // Unpredictable, so that no other user can take the name first and make the run fail.
        std::random_device rd;
        char suffix[24];
        snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
        return "bismarck_work." + spi::ident("train_" + std::to_string(MyProcPid) + "_" +
                                             std::to_string(++counter) + "_" + suffix);
    }

    std::string projection() const {
        std::string cols;
        for (size_t i = 0; i < inputs.size(); ++i)
            cols += (i ? ", " : "") + inputs[i] + " AS " + input_names[i];
        return cols;
    }

    // A seeded, physically shuffled copy of the rows with no NULL input: ORDER BY random() after
    // setseed() on a serial plan with synchronized scans off is the same order for the same seed.
    std::string shuffled_copy(int64_t seed, int workers) {
        const std::string name = new_table_name();
        if (dist.on) {  // co-located with the source, each shard shuffled where it is
            distributed::shuffled_copy(dist, name, source_sql, projection(), not_null);
            tables_made.push_back(name);
            return name;
        }
        gucs.set("max_parallel_workers_per_gather", "0");
        spi::set_random_seed(seed);
        const bool split = !validation_sql.empty();
        spi::exec("CREATE UNLOGGED TABLE " + name + " WITH (autovacuum_enabled = false" +
                  (workers > 0 ? ", parallel_workers = " + std::to_string(workers) : "") +
                  ") AS SELECT " + projection() +
                  (split ? ", (" + validation_sql + ") AS bismarck_validation" : "") + " FROM " +
                  source_sql + " WHERE " + not_null + " ORDER BY pg_catalog.random()");
        tables_made.push_back(name);
        if (!split) return name;
        // The validation rows in a table of their own; the epochs read the others.
        if (validation_table.empty()) {
            validation_table = new_table_name();
            std::string cols;
            for (size_t i = 0; i < input_names.size(); ++i)
                cols += (i ? ", " : "") + input_names[i];
            spi::exec("CREATE UNLOGGED TABLE " + validation_table +
                      " WITH (autovacuum_enabled = false) AS SELECT " + cols + " FROM " + name +
                      " WHERE bismarck_validation");
            tables_made.push_back(validation_table);
        }
        std::string cols;
        for (size_t i = 0; i < input_names.size(); ++i) cols += (i ? ", " : "") + input_names[i];
        return "(SELECT " + cols + " FROM " + name + " WHERE NOT bismarck_validation) AS train";
    }

    std::string epoch_sql(const std::string &from) const {
        std::string args;
        for (size_t i = 0; i < inputs.size(); ++i) args += input_names[i] + ", ";
        return "SELECT bismarck." + trainer + "_epoch(" + args + "$1) FROM " + from;
    }

    // The epoch query over `from`, with the model state as $1 (one-shot on a distributed table).
    void prepare(spi::Plan &plan, const std::string &from) const {
        plan.prepare(epoch_sql(from), {state_type}, dist.on);
    }

    // Runs one aggregate call; returns the resulting state copied into `context`.
    StateHeader *run_epoch(const spi::Plan &plan, const StateHeader *in) {
        plan.exec({{state_type, PointerGetDatum(in)}}, false);
        bool isnull = true;
        if (SPI_processed != 1) fail(ERRCODE_INTERNAL_ERROR, "epoch query returned no row");
        MemoryContext old = MemoryContextSwitchTo(context);
        Datum d = spi::value(0, 1, &isnull, context);
        MemoryContextSwitchTo(old);
        if (isnull) fail(ERRCODE_DATA_EXCEPTION, "the training data has no usable rows");
        StateHeader *out = reinterpret_cast<StateHeader *>(DatumGetPointer(d));
        pg_call([&] { SPI_freetuptable(SPI_tuptable); });
        return out;
    }
};

// The objective an epoch reports: the mean progressive loss plus the regularisers at `params`
// (a factorization's regularisers are in each cell's term already), in the target's raw units.
double objective(const Run &run, const StateHeader *h, const double *params) {
    if (h->epoch.rows_seen == 0) return NAN;
    const double penalty =
        models::is_linear(task_of(h))
            ? igd::linear_penalty(params, h->model.dim, h->model.outputs, h->model.l2, h->model.l1)
            : 0.0;
    return (igd::epoch_loss_sum(h->epoch) / double(h->epoch.rows_seen) + penalty) * run.loss_scale;
}

// step: shuffle. Shuffle once (or never: scan the source as it is, projected to the inputs).
// step: the validation split. A fraction of the rows, drawn by the seeded shuffle (the copy then
// holds them apart); or a boolean column's true rows, held out of every scan the epochs make.
void validation_step(Run &run) {
    const Options &o = run.opt;
    if (o.validation > 0.0) {
        if (o.shuffle != "once")
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "validation => " + fmt(o.validation) + " draws its rows in the shuffled copy", {},
                 "Use shuffle => 'once', or name a boolean column with validation_column.");
        run.validation_sql = "pg_catalog.random() OPERATOR(pg_catalog.<) " + fmt(o.validation);
        return;
    }
    if (o.validation_column.empty()) return;
    const Column c = column(run.relid, run.source_sql, o.validation_column, "validation");
    if (c.type != BOOLOID)
        fail(ERRCODE_DATATYPE_MISMATCH,
             "validation column \"" + c.name + "\" has type " + type_name(c.type), {},
             "validation_column names a boolean column: true marks a validation row.");
    run.validation_sql = "(" + c.sql + ") IS TRUE";
    if (o.shuffle == "once" || o.shuffle == "every_epoch") return;  // the copy splits them
    // no copy: the validation rows in a table of their own, the epochs' scans skip them
    run.validation_table = run.new_table_name();
    spi::exec("CREATE UNLOGGED TABLE " + run.validation_table +
              " WITH (autovacuum_enabled = false) AS SELECT " + run.projection() + " FROM " +
              run.source_sql + " WHERE " + run.not_null + " AND " + run.validation_sql);
    run.tables_made.push_back(run.validation_table);
    run.not_null += " AND NOT (" + run.validation_sql + ")";
    run.epoch_filter += " AND NOT (" + run.validation_sql + ")";
    run.sample_filter += " AND NOT (" + run.validation_sql + ")";
}

// 'blocks' needs no copy (CorgiPile, Xu et al. SIGMOD 2022): every epoch scans the source's pages
// in a new seeded random order (the TABLESAMPLE method bismarck.block_shuffle, src/shuffle).
std::string block_order_sql(const Run &run, int64_t seed, const std::string &filter) {
    return "(SELECT " + run.projection() + " FROM " + run.source_sql +
           " TABLESAMPLE bismarck.block_shuffle(" + std::to_string(seed) + ", 1) WHERE " + filter +
           ") AS source";
}

// shuffle => 'auto' (the default): 'blocks' where it can run and pays, 'once' elsewhere.
// A shuffled copy costs as much as 10 to 20 epochs (a sort of the table and a write of it), and
// an epoch in block order no more than one over the copy (0.146 s against 0.204 s on 581,012 x 54
// in bench/results/report.md: it keeps the table in shared buffers and prefetches the next
// page, src/shuffle/block_order.cpp): a table that trains in a few epochs
// (averaged SGD needs two or three over a few hundred thousand rows) spends most of its time on
// the copy; a small one trains in hundreds of epochs, for which the copy is cheap and a page
// holds too large a share of its rows for a page order to mix them well. Block order needs a
// serial scan of a table (PostgreSQL 15 has no parallel sample scans) on one node, and a
// fraction held out for validation is drawn by the copy. Factorizations keep the copy: a page of
// ratings stored by user holds one user's cells.
constexpr int64_t kBlockOrderRows = 100000;

void resolve_shuffle(Run &run, bool parallel) {
    if (run.opt.shuffle != "auto") return;
    bool blocks = models::is_linear(run.task) && !parallel && !run.dist.on &&
                  run.opt.validation == 0.0 && OidIsValid(run.relid) && run.rows >= kBlockOrderRows;
    if (blocks) {
        char kind = 0;
        pg_call([&] { kind = get_rel_relkind(run.relid); });
        blocks = kind == RELKIND_RELATION || kind == RELKIND_MATVIEW;
    }
    run.opt.shuffle = blocks ? "blocks" : "once";
}

void shuffle_step(Run &run, int workers) {
    const auto in_place = [&](const std::string &filter) {
        return "(SELECT " + run.projection() + " FROM " + run.source_sql + " WHERE " + filter +
               ") AS source";
    };
    if (run.opt.shuffle == "never") {
        run.table = in_place(run.epoch_filter);
        run.sample_table = in_place(run.sample_filter);
        run.scan = {run.source_sql, run.projection(), run.sample_filter};
        run.steps_skip_nulls = run.epoch_filter != run.sample_filter;
    } else if (run.opt.shuffle == "blocks") {
        char kind = 0;
        pg_call([&] { kind = get_rel_relkind(run.relid); });
        if (kind != RELKIND_RELATION && kind != RELKIND_MATVIEW)
            fail(ERRCODE_WRONG_OBJECT_TYPE,
                 "shuffle => 'blocks' needs a table or materialized view, and " + run.source_sql +
                     " is neither",
                 {}, "Use shuffle => 'once'.");
        if (workers > 0 || run.dist.on)
            fail(ERRCODE_FEATURE_NOT_SUPPORTED,
                 "shuffle => 'blocks' runs serially on one node: PostgreSQL 15 has no parallel "
                 "sample scans",
                 {}, "Use shuffle => 'once' with parallelism => '" + run.opt.parallelism + "'.");
        run.table = block_order_sql(run, run.opt.seed, run.epoch_filter);
        run.sample_table = block_order_sql(run, run.opt.seed, run.sample_filter);
        run.steps_skip_nulls = run.epoch_filter != run.sample_filter;
    } else {
        run.table = run.sample_table = run.shuffled_copy(run.opt.seed, workers);
        run.scan = {run.table, "*", "true"};
    }
}

// step: step size. Given, or calibrated on a sample (as Bottou's SGD does): for each candidate,
// one pass over the first rows of the shuffled copy from the initial model, then the loss of the
// result on the next rows (held out, so that a step that merely fits the sample fast does not
// win); the candidate with the lowest held-out loss is kept.
double step_size_step(Run &run, const StateHeader *init) {
    if (run.opt.step != 0.0) return run.opt.step;
    progress::phase("step size");
    run.gucs.set("max_parallel_workers_per_gather", "0");
    const std::string n = std::to_string(run.sample_rows);
    spi::Plan sample, held_out;
    if (run.dist.on) {
        // no LIMIT on a distributed table: the first blocks of every shard, and the next ones
        const int64_t blocks = distributed::sample_blocks(run.scan, run.sample_rows);
        run.prepare(sample, distributed::block_range(run.scan, 0, blocks, "sample"));
        run.prepare(held_out, distributed::block_range(run.scan, blocks, blocks, "held_out"));
    } else {
        run.prepare(sample, "(SELECT * FROM " + run.sample_table + " LIMIT " + n + ") AS sample");
        run.prepare(held_out, "(SELECT * FROM " + run.sample_table + " OFFSET " + n + " LIMIT " +
                                  n + ") AS held_out");
    }
    const bool small = run.rows < 2 * run.sample_rows;  // too few rows to hold any out
    double best = INFINITY, alpha = 0.01;
    StateHeader *probe = copy_state(init, 0, false);
    probe->epoch.parallelism = uint8_t(Parallelism::serial);
    probe->epoch.flags |= kNoDivergence;
    // The candidates, then smaller ones while every one so far diverged (features on very
    // different scales, e.g. unscaled sparse ones).
    std::vector<double> candidates(std::begin(igd::kCalibrationSteps),
                                   std::end(igd::kCalibrationSteps));
    for (size_t i = 0; i < candidates.size(); ++i) {
        const double a = candidates[i];
        if (i + 1 == candidates.size() && !std::isfinite(best) && a > 1e-7)
            candidates.push_back(a / 3.0 < 2e-7 ? 1e-7 : a / (i % 2 ? 3.0 : 10.0 / 3.0));
        probe->model.alpha = a;
        StateHeader *trained = run.run_epoch(sample, probe);
        StateHeader *next = copy_state(trained, 0, false);
        next->epoch.flags |= kEvalOnly;
        StateHeader *eval = run.run_epoch(small ? sample : held_out, next);
        const double loss = std::isfinite(igd::epoch_loss_sum(trained->epoch))
                                ? objective(run, eval, igd::state_params(eval))
                                : INFINITY;
        if (std::isfinite(loss) && loss < best) {
            best = loss;
            alpha = a;
        }
        pfree(trained);
        pfree(next);
        pfree(eval);
    }
    pfree(probe);
    if (!std::isfinite(best))
        fail(ERRCODE_DATA_EXCEPTION,
             "every step size down to 1e-7 diverged on a sample of the rows", {},
             "The features are on very different scales: scale them, or train dense features "
             "with standardize => true.");
    return alpha;
}

// The model of a shared-memory run lives in a segment; the per-epoch state carries its handle.
struct SharedRun {
    dsm_segment *seg = nullptr;
    SharedSegment *segment = nullptr;
    std::vector<double> accumulator;  // averaging: the processes' accumulators, summed
};

// steps: epochs, final loss. `init` is the initial model (no work block).
Summary train(Run &run, StateHeader *init) {
    const Options &o = run.opt;
    const double t0 = now_seconds();
    const Parallelism par = parallelism_of(o.parallelism);
    const bool parallel = par != Parallelism::serial;
    int workers = 0;
    if (parallel && run.dist.on) {
        workers = run.dist.shards;  // one model per shard, averaged
    } else if (parallel) {
        workers = o.workers;
        if (workers < 0) {
            const char *v = GetConfigOption("max_parallel_workers_per_gather", false, false);
            workers = v ? atoi(v) : 2;
            if (workers <= 0) workers = 2;
        }
    }
    run.gucs.set("synchronize_seqscans", "off");
    run.gucs.set("jit", "off");  // compiling every epoch's plan costs more than it saves
    progress::set_plan(std::string(models::task_name(run.task)), o.epochs);
    progress::set_workers(workers);
    resolve_shuffle(run, parallel);
    if (o.shuffle != "never") progress::phase("shuffle");
    validation_step(run);
    shuffle_step(run, workers);
    if (!run.validation_table.empty()) {
        spi::exec("SELECT count(*) FROM " + run.validation_table, {}, false);
        const int64_t n = spi::int64_value(0, 1);
        if (n == 0 || n == run.rows)
            fail(ERRCODE_DATA_EXCEPTION,
                 "the validation split of " + run.source_sql + " has " + std::to_string(n) +
                     " of its " + std::to_string(run.rows) + " rows",
                 {}, "Both the training and the validation rows must be some of the rows.");
        run.rows -= n;  // what the epochs train on
    }

    init->epoch.parallelism = uint8_t(par);
    if (run.average) init->epoch.flags |= igd::kDecayPerRow;
    init->model.seed = uint64_t(o.seed);
    init->model.l2 = o.l2;
    // (a regression learns the standardised target: its l1 is the user's in raw units)
    init->model.l1 = o.l1 / std::sqrt(run.loss_scale);
    if (o.on_null == "error")
        init->epoch.flags |= kNullIsError;
    else
        init->epoch.flags |= igd::kSkipNullElements;  // see Run::epoch_filter

    const double alpha0 = step_size_step(run, init);
    if (parallel && workers > 0 && !run.dist.on) {
        run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
        run.gucs.set("parallel_setup_cost", "0");
        run.gucs.set("parallel_tuple_cost", "0");
        run.gucs.set("min_parallel_table_scan_size", "0");
    } else {
        run.gucs.set("max_parallel_workers_per_gather", "0");
    }

    // Shared memory: the model lives in a segment every process attaches.
    SharedRun shared;
    StateHeader *state = init;
    if (par == Parallelism::shared_memory || par == Parallelism::shared_memory_locked) {
        uint64_t handle = 0, token = 0;
        shared.segment = shared_create(init->model.n_params, &shared.seg, &handle, &token);
        memcpy(segment_params(shared.segment), igd::state_params(init),
               sizeof(double) * init->model.n_params);
        state = copy_state(init, 0, true);  // the header, scaler and meta; no parameters
        state->epoch.shared_handle = handle;
        state->epoch.shared_token = token;
    }

    spi::Plan plan;
    run.prepare(plan, run.table);

    catalog::delete_log(run.model);
    // Stopping: when the loss has not improved on the best so far by more than `tolerance`
    // (relatively) for `patience` epochs in a row, as scikit-learn's SGD does.
    double best = INFINITY, loss = NAN;
    int stale = 0;
    // The model as it stands after an epoch: the shared or serial parameters, or their average.
    std::vector<double> model_now, best_model;
    auto current_params = [&](std::vector<double> &out) {
        const int64_t np = init->model.n_params;
        out.resize(size_t(np));
        const double *w =
            shared.segment ? segment_params(shared.segment) : igd::state_params(state);
        if (state->epoch.flags & igd::kAveraging)  // the average of the iterates
            igd::averaged(w, shared.segment ? shared.accumulator.data() : igd::state_work(state),
                          np, double(state->epoch.avg_steps), out.data());
        else
            memcpy(out.data(), w, sizeof(double) * size_t(np));
    };
    const bool validating = !run.validation_table.empty();
    double best_validation = INFINITY;
    spi::Plan validation_plan;
    if (validating) validation_plan.prepare(run.epoch_sql(run.validation_table), {run.state_type});
    bool converged = false;
    int epoch = 0, ran_workers = 0;
    for (; epoch < o.epochs; ++epoch) {
        check_for_interrupts();
        progress::epoch(epoch + 1, run.rows, loss);
        const double te = now_seconds();
        if (o.shuffle == "blocks" && epoch > 0) {
            run.table = block_order_sql(run, o.seed + epoch, run.epoch_filter);
            plan.prepare(run.epoch_sql(run.table), {run.state_type});
        }
        if (o.shuffle == "every_epoch" && epoch > 0) {
            run.table = run.shuffled_copy(o.seed + epoch, workers);
            if (parallel && workers > 0 && !run.dist.on)
                run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
            run.prepare(plan, run.table);
        }
        state->epoch.epoch = epoch;
        state->model.alpha = igd::step_size_at(alpha0, o.decay, epoch);
        if (shared.segment) shared.segment->steps = state->epoch.avg_steps;
        StateHeader *out = run.run_epoch(plan, state);
        // The driver filtered NULL inputs out, or counted them (steps_skip_nulls): any other
        // row skipped is a label that matched none of the classes.
        const int64_t unmatched = out->epoch.nulls_skipped + out->epoch.null_elements_skipped -
                                  (run.steps_skip_nulls ? run.skipped : 0);
        if (epoch == 0 && unmatched > 0)
            fail(ERRCODE_DATA_EXCEPTION,
                 std::to_string(unmatched) + " rows' labels matched none of the classes found in " +
                     run.source_sql,
                 {},
                 "The label column changed during training, or its type's equality differs "
                 "from its sort order.");
        const int64_t np = out->model.n_params;
        const bool averaged_epoch = out->epoch.flags & igd::kAveraging;
        if (shared.segment && out->epoch.n_work == (averaged_epoch ? np : 0) + 2 * np &&
            out->epoch.rows_seen > 0) {
            // batched updates made after each process's last exchange (summed by the combine)
            double *base = igd::state_work(out) + (averaged_epoch ? np : 0);
            igd::exchange<igd::PlainAccess>(segment_params(shared.segment), base, base + np, np);
        }
        if (shared.segment && averaged_epoch) {
            // the processes' averaging accumulators of this epoch, summed by the combine
            const double *acc = igd::state_work(out);
            for (int64_t k = 0; k < np; ++k) shared.accumulator[k] += acc[k];
        }
        const double *params =
            shared.segment ? segment_params(shared.segment) : igd::state_params(out);
        loss = objective(run, out, params);
        if (!std::isfinite(loss))  // e.g. weights so large that the penalty overflows
            throw igd::Error(igd::Error::Kind::diverged,
                             "training diverged: the objective became infinite or NaN in epoch " +
                                 std::to_string(epoch + 1) + " (step size " +
                                 fmt(state->model.alpha) + ")");
        ran_workers = run.dist.on ? run.dist.shards : int(out->epoch.participants);
        const int64_t out_rows = out->epoch.rows_seen;
        const double alpha_epoch = state->model.alpha;
        if (!shared.segment) {
            if (state != init) pfree(state);
            state = out;
            // The per-row step decay counts the steps a model took: on a distributed table each
            // shard's copy took only its share of the epoch's rows.
            state->epoch.steps +=
                run.dist.on ? state->epoch.rows_seen / run.dist.shards : state->epoch.rows_seen;
            if (state->epoch.flags & igd::kAveraging) {
                state->epoch.avg_steps += state->epoch.rows_seen;
            } else if (run.average && epoch + 1 < o.epochs) {
                // Averaging starts with the second epoch: the first one's iterates are far from
                // the optimum and would only drag the average.
                StateHeader *next = copy_state(state, state->model.n_params, false);
                next->epoch.flags |= igd::kAveraging;
                next->epoch.avg_steps = 0;
                pfree(state);
                state = next;
            }
        } else {
            pfree(out);
            if (state->epoch.flags & igd::kAveraging) {
                state->epoch.avg_steps = shared.segment->steps;  // every process's steps so far
            } else if (run.average && epoch + 1 < o.epochs) {
                state->epoch.flags |= igd::kAveraging;
                state->epoch.avg_steps = 0;
                shared.accumulator.assign(size_t(state->model.n_params), 0.0);
            }
            state->epoch.steps += out_rows;
        }
        // The validation split: the loss of the model as it stands (the average, when
        // averaging) on the held-out rows; the best model so far is kept.
        double val_loss = NAN;
        if (validating) {
            current_params(model_now);
            StateHeader *probe = copy_state(init, 0, false);
            memcpy(igd::state_params(probe), model_now.data(), sizeof(double) * model_now.size());
            probe->epoch.flags |= kEvalOnly;
            run.gucs.set("max_parallel_workers_per_gather", "0");
            StateHeader *v = run.run_epoch(validation_plan, probe);
            if (parallel && workers > 0)
                run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
            val_loss = v->epoch.rows_seen ? igd::epoch_loss_sum(v->epoch) /
                                                double(v->epoch.rows_seen) * run.loss_scale
                                          : NAN;
            pfree(probe);
            pfree(v);
            if (val_loss < best_validation) {
                best_validation = val_loss;
                best_model = model_now;
            }
        }
        const double seconds = now_seconds() - te;
        std::ostringstream msg;
        msg.precision(6);
        msg << "epoch " << epoch + 1 << "/" << o.epochs << " loss " << std::fixed << loss;
        if (validating) msg << " validation " << val_loss;
        msg << " step " << std::defaultfloat << alpha_epoch << " " << std::fixed
            << std::setprecision(2) << seconds << " s";
        if (parallel) msg << " (" << o.parallelism << ", " << ran_workers << " workers)";
        notice(msg.str());
        catalog::log_epoch(run.model, epoch + 1, loss, alpha_epoch, seconds, out_rows,
                           o.parallelism, ran_workers, val_loss);
        // a time budget: stop after the epoch that reaches it, keeping the model trained so far
        if (o.max_seconds > 0.0 && now_seconds() - t0 >= o.max_seconds && epoch + 1 < o.epochs) {
            notice("stopping after epoch " + std::to_string(epoch + 1) + ": max_seconds (" +
                   fmt(o.max_seconds) + ") reached");
            ++epoch;
            break;
        }
        // stopping: on the validation loss when there is a split, else on the training loss
        const double watched = validating ? val_loss : loss;
        if (o.tolerance > 0.0 && watched > best - o.tolerance * std::abs(best)) {
            if (++stale >= o.patience) {
                converged = true;
                ++epoch;
                break;
            }
        } else {
            stale = 0;
        }
        best = std::min(best, watched);
    }

    // step: final loss. The final model, without the shared segment, and its exact objective
    // (one loss-only scan).
    StateHeader *final_model = copy_state(init, 0, false);
    if (validating && !best_model.empty())  // the model that did best on the validation rows
        model_now = best_model;
    else
        current_params(model_now);
    memcpy(igd::state_params(final_model), model_now.data(), sizeof(double) * model_now.size());
    if (shared.segment) pg_call([&] { dsm_detach(shared.seg); });
    final_model->epoch = igd::EpochInfo{};
    final_model->model.epochs = epoch;
    progress::phase("final loss", run.rows);
    {
        StateHeader *eval = copy_state(final_model, 0, false);
        eval->epoch.flags |= kEvalOnly | (init->epoch.flags & igd::kSkipNullElements);
        run.gucs.set("max_parallel_workers_per_gather", "0");
        StateHeader *out = run.run_epoch(plan, eval);
        loss = objective(run, out, igd::state_params(out));
    }
    final_model->model.alpha = alpha0;
    for (const std::string &t : run.tables_made) spi::exec("DROP TABLE " + t);

    // step: save.
    progress::phase("saving");
    catalog::Record &rec = run.record;
    rec.replace = o.replace;
    rec.state = final_model;
    rec.epochs = epoch;
    rec.loss = loss;
    rec.seconds = now_seconds() - t0;
    rec.rows = run.rows;
    rec.skipped = run.skipped;
    std::ostringstream js;
    js.precision(17);
    js << "{\"epochs\": " << o.epochs << ", \"step_size\": " << alpha0
       << ", \"step_size_auto\": " << (o.step == 0.0 ? "true" : "false")
       << ", \"decay\": " << o.decay << ", \"l2\": " << o.l2 << ", \"l1\": " << o.l1
       << ", \"tolerance\": " << o.tolerance << ", \"shuffle\": " << json_string(o.shuffle)
       << ", \"parallelism\": " << json_string(o.parallelism) << ", \"workers\": " << workers
       << ", \"seed\": " << o.seed << ", \"on_null\": " << json_string(o.on_null)
       << ", \"patience\": " << o.patience << ", \"max_seconds\": " << o.max_seconds
       << ", \"validation\": " << o.validation << ", \"validation_column\": "
       << (o.validation_column.empty() ? "null" : json_string(o.validation_column))
       << ", \"init_model\": " << (o.init_model.empty() ? "null" : json_string(o.init_model))
       << run.options_json << "}";
    rec.options_json = js.str();
    catalog::save(rec);
    run.gucs.close();
    progress::end();
    const int classes =
        models::is_linear(run.task) && models::target_of(run.task) != Target::real
            ? (models::target_of(run.task) == Target::binary ? 2 : int(final_model->model.outputs))
            : 0;
    return {best_validation < INFINITY ? best_validation : NAN,
            run.rows,
            run.skipped,
            rec.dimension,
            classes,
            epoch,
            loss,
            alpha0,
            rec.seconds,
            converged,
            ran_workers};
}

Datum summary_row(FunctionCallInfo fcinfo, const Run &run, const Summary &s) {
    TupleDesc desc;
    Datum result = 0;
    pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "return type must be a row type");
        if (desc->natts != 14)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("this function's SQL definition belongs to bismarck 0.1.0"),
                            errhint("Run ALTER EXTENSION bismarck UPDATE.")));
        desc = BlessTupleDesc(desc);
        Datum v[14];
        bool n[14] = {false};
        v[0] = CStringGetTextDatum(run.model.c_str());
        v[1] = CStringGetTextDatum(std::string(models::task_name(run.task)).c_str());
        v[2] = Int64GetDatum(s.rows);
        v[3] = Int64GetDatum(s.skipped);
        v[4] = Int64GetDatum(s.dim);
        v[5] = Int32GetDatum(s.classes);
        n[5] = s.classes == 0;
        v[6] = Int32GetDatum(s.epochs);
        v[7] = Float8GetDatum(s.loss);
        v[8] = Float8GetDatum(s.validation_loss);
        n[8] = !std::isfinite(s.validation_loss);
        v[9] = Float8GetDatum(s.step);
        v[10] = Float8GetDatum(s.seconds);
        v[11] = BoolGetDatum(s.converged);
        v[12] = CStringGetTextDatum(run.opt.parallelism.c_str());
        v[13] = Int32GetDatum(s.workers);
        result = HeapTupleGetDatum(heap_form_tuple(desc, v, n));
    });
    return result;
}

// step: inputs. The source must exist (regclass did that) and be readable by the caller.
void source_step(Run &run, const Args &a) {
    if (!a.has("source")) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "source must not be NULL");
    if (get_fn_expr_argtype(a.fcinfo->flinfo, a.index("source")) == TEXTOID) {
        // source text: a query, or a relation's name (read as regclass reads it)
        const std::string s = a.text("source");
        run.source_sql = features::query_source(s);
        if (!run.source_sql.empty()) return;
        pg_call([&] {
            run.relid =
                DatumGetObjectId(DirectFunctionCall1(regclassin, CStringGetDatum(s.c_str())));
        });
    } else {
        run.relid = DatumGetObjectId(a.get("source"));
    }
    AclResult acl = ACLCHECK_OK;
    pg_call([&] { acl = pg_class_aclcheck(run.relid, GetUserId(), ACL_SELECT); });
    run.source_sql = spi::relation(run.relid);
    if (acl != ACLCHECK_OK)
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + run.source_sql, {},
             "Training reads the source with your privileges: you need SELECT on it.");
}

void setup(Run &run, const Args &a, const char *trainer) {
    run.trainer = trainer;
    run.model = a.text("model");
    catalog::check_name(run.model);
    run.opt = read_options(a);
    catalog::check_can_write(run.model, run.opt.replace);
    pg_call([&] {
        run.context = AllocSetContextCreate(CurrentMemoryContext, "bismarck training",
                                            ALLOCSET_DEFAULT_SIZES);
    });
    run.state_type = bismarck_type("model_state");
    // live state for bismarck.progress (the task is known once the label has been read)
    progress::begin(run.model, trainer, run.opt.parallelism, run.opt.workers, run.opt.epochs);
    progress::phase("statistics");
    source_step(run, a);
    // A Citus distributed source: every step runs on its shards, with model averaging; the
    // calibration sample spreads over the shards, so it is larger.
    run.dist = distributed::describe(run.relid);
    if (run.dist.on) {
        run.opt.parallelism =
            distributed::parallelism(run.dist, run.source_sql, run.opt.parallelism);
        run.sample_rows = std::max<int64_t>(run.sample_rows, 256 * int64_t(run.dist.shards));
    }
}

// ---- supervised linear models ----------------------------------------------------------------

// The label column and what training does with it.
struct Label {
    Column col;
    Target target;                     // binary / classes from the data; real for regressions
    std::vector<std::string> classes;  // sorted as the label type sorts
    std::vector<int64_t> counts;       // rows of each class
    std::string type_name;             // the SQL type, as format_type gives it
    double mean = 0.0, scale = 1.0;    // regressions
};

// The array type of `t` as SQL can name it in a cast.
std::string array_type_sql(Oid t) {
    if (t == BPCHAROID) return "pg_catalog.bpchar[]";
    char *n = nullptr;
    pg_call([&] { n = format_type_be_qualified(t); });
    return std::string(n) + "[]";
}

bool is_number_type(Oid t) {
    return t == INT2OID || t == INT4OID || t == INT8OID || t == FLOAT4OID || t == FLOAT8OID ||
           t == NUMERICOID;
}

// Which label types a classifier takes: anything sortable and comparable that is a boolean, a
// number, a string or an enum (a class is shown back as the type's text form).
bool is_class_type(Oid t) {
    if (t == BOOLOID || is_number_type(t) || t == TEXTOID || t == VARCHAROID || t == BPCHAROID ||
        t == NAMEOID || t == CHAROID)
        return true;
    bool is_enum = false;
    pg_call([&] { is_enum = type_is_enum(t); });
    return is_enum;
}

// Warm start (init_model => 'name'): the training starts from a stored model of the same task,
// features and classes, whose parameters and scaler (the parameters are in its units) replace
// the fresh ones. A model the caller may use, checked like a prediction by name.
void warm_start(Run &run, StateHeader *init) {
    catalog::Model from = catalog::load(run.opt.init_model, CurrentMemoryContext);
    const StateHeader *h = from.state;
    auto refuse = [&](const std::string &what) {
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "model \"" + run.opt.init_model + "\" cannot start this training: " + what, {},
             "init_model needs a model of the same task trained on the same features and classes.");
    };
    if (h->model.task != init->model.task)
        refuse("it is " + std::string(models::task_name(task_of(h))) + ", this is " +
               std::string(models::task_name(task_of(init))));
    if (h->model.dim != init->model.dim || h->model.outputs != init->model.outputs)
        refuse("it has " + std::to_string(h->model.dim) + " features, this has " +
               std::to_string(init->model.dim));
    if (h->model.n_scaler != init->model.n_scaler)
        refuse("one is standardised and the other is not");
    if (h->model.meta_bytes != init->model.meta_bytes ||
        memcmp(igd::state_meta(h), igd::state_meta(init), size_t(h->model.meta_bytes)) != 0)
        refuse("its classes differ");
    memcpy(igd::state_params(init), igd::state_params(h), sizeof(double) * h->model.n_params);
    if (h->model.n_scaler)
        memcpy(const_cast<double *>(igd::state_scaler(init)), igd::state_scaler(h),
               sizeof(double) * h->model.n_scaler);
    init->model.target_mean = h->model.target_mean;
    init->model.target_scale = h->model.target_scale;
}

// The statistics of the features and the label, in one scan, and the classes in a second one.
Datum train_linear(FunctionCallInfo fcinfo, const char *trainer) {
    Run run;
    spi::connect();
    const Args a = args_of(fcinfo);
    setup(run, a, trainer);
    const bool standardize = a.has("standardize") ? DatumGetBool(a.get("standardize")) : true;
    // Averaged SGD by default. Not with l1: an average of sparse iterates is not sparse, and
    // the lasso is asked for its exact zeros.
    run.average = (a.has("average") ? DatumGetBool(a.get("average")) : true) && run.opt.l1 == 0.0;

    // step: inputs: the features (one column, a list of columns or '*': see features.cpp) and
    // the label column
    const std::string fname_col = a.text("features");
    const std::string lname_col = a.text("label");
    const bool impute = run.opt.on_null == "impute";
    const TupleDesc desc = features::source_columns(run.source_sql);
    const int label_at = features::find_column(desc, lname_col);
    if (label_at < 0)
        fail(ERRCODE_UNDEFINED_COLUMN, "label column \"" + lname_col + "\" of relation " +
                                           run.source_sql + " does not exist");
    Label label{{lname_col, spi::ident(lname_col), TupleDescAttr(desc, label_at)->atttypid},
                Target::binary,
                {},
                {}};
    const features::Spec spec =
        features::resolve(desc, run.source_sql, fname_col, a.text("exclude", ""), lname_col,
                          bismarck_type("sparsevec"));
    const int max_categories =
        a.has("max_categories") ? DatumGetInt32(a.get("max_categories")) : 100;
    if (max_categories < 1 || max_categories > 100000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "max_categories must be between 1 and 100000, not " + std::to_string(max_categories));
    const bool sparse = spec.sparse;
    if (sparse && impute)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "on_null => 'impute' does not apply to a bismarck.sparsevec column", {},
             "Use on_null => 'skip' (rows with a NULL sparsevec are skipped and counted).");
    // A row goes through bismarck.encode_features unless its features are one vector column
    // read as it is.
    const bool transformed = !spec.vector_column || impute;
    std::string features_sql = spec.inputs[0].sql;
    if (!transformed && !sparse && spec.inputs[0].base != FLOAT8ARRAYOID &&
        spec.inputs[0].base != FLOAT4ARRAYOID)
        features_sql += "::pg_catalog.float8[]";
    // Shared memory: a dense row updates every weight, so per-row Hogwild makes the processes
    // fight over the model's cache lines on every row; by default each process steps a private
    // copy and exchanges it with the shared model every kDenseSharedBatch rows (igd::exchange).
    // A sparse row touches few weights, and an exchange costs the whole dimension: per-row.
    constexpr int kDenseSharedBatch = 32;
    const bool shared_memory = run.opt.parallelism == "shared_memory";
    int batch = shared_memory && !sparse ? kDenseSharedBatch : 1;
    if (a.has("batch")) {
        batch = DatumGetInt32(a.get("batch"));
        if (batch < 1 || batch > 1000000)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "batch must be between 1 and 1000000, not " + std::to_string(batch));
        if (batch > 1 && !shared_memory)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "batch applies only to parallelism => 'shared_memory', not '" +
                     run.opt.parallelism + "'",
                 {}, "Leave batch out, or train with parallelism => 'shared_memory'.");
    }

    // step: inputs: the label column
    const Column &l = label.col;
    label.type_name = type_name(l.type);
    if (models::trainer_target(trainer) == Target::real) {
        label.target = Target::real;
        if (!is_number_type(l.type))
            fail(ERRCODE_DATATYPE_MISMATCH,
                 "label column \"" + lname_col + "\" has type " + label.type_name, {},
                 "A regression's label must be a number (integer, bigint, real, double "
                 "precision or numeric).");
    } else if (!is_class_type(l.type)) {
        fail(ERRCODE_DATATYPE_MISMATCH,
             "label column \"" + lname_col + "\" has type " + label.type_name, {},
             "A classifier's label must be a boolean, a number, a string or an enum.");
    }
    // NULL features (or NULL elements in a dense array) and NULL labels make a row unusable,
    // unless the features' NULLs are imputed.
    run.not_null = features::not_null(spec, impute) + " AND " + l.sql + " IS NOT NULL";
    run.sample_filter =
        transformed ? run.not_null
                    : features::not_null(spec, impute, false) + " AND " + l.sql + " IS NOT NULL";
    run.epoch_filter = transformed ? run.not_null : "true";
    // step: statistics: the transform of a list of columns (means, categories)
    igd::Transform transform;
    if (transformed) {
        transform = features::learn(spec, run.source_sql, run.not_null, impute, max_categories);
        features_sql = features::encode_sql(transform, spec);
    }

    // step: statistics. One scan for everything the run needs to know before it starts. The
    // subquery exposes only its own columns, so the source's column names cannot clash.
    const bool real = label.target == Target::real;
    spi::exec("SELECT count(*), count(*) FILTER (WHERE NOT ok), " +
                  std::string(sparse ? "bismarck.sparse_stats(f) FILTER (WHERE ok)"
                                     : "bismarck.feature_stats(f) FILTER (WHERE ok)") +
                  ", " +
                  (sparse ? "min(bismarck.dims(f)) FILTER (WHERE ok), max(bismarck.dims(f)) "
                            "FILTER (WHERE ok)"
                          : "0, 0") +
                  ", " +
                  (real ? "avg(y::float8) FILTER (WHERE ok), stddev_pop(y::float8) FILTER (WHERE "
                          "ok), count(*) FILTER (WHERE ok AND y::float8 IN ('NaN', 'Infinity', "
                          "'-Infinity'))"
                        : "0, 0, 0") +
                  " FROM (SELECT " + features_sql + " AS f, " + l.sql + " AS y, (" + run.not_null +
                  ") AS ok FROM " + run.source_sql + ") AS s",
              {}, true);
    const int64_t total = spi::int64_value(0, 1);
    run.skipped = spi::int64_value(0, 2);
    run.rows = total - run.skipped;
    if (run.skipped > 0 && run.opt.on_null == "error")
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED,
             std::to_string(run.skipped) + " rows of " + run.source_sql +
                 " have NULL features or labels",
             {}, "Use on_null => 'skip' to skip them.");
    if (run.rows == 0)
        fail(ERRCODE_NO_DATA_FOUND,
             "table " + run.source_sql +
                 " has no rows with non-NULL features and label to train on");
    int64_t dim = 0;
    std::vector<double> scaler;
    bool isnull;
    if (sparse) {
        dim = spi::int64_value(0, 5);
        if (spi::int64_value(0, 4) != dim)
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "sparse features have different dimensions: " +
                                                    std::to_string(spi::int64_value(0, 4)) +
                                                    " and " + std::to_string(dim));
        // Sparse features are scaled, not centred (a centred row is no longer sparse): each by
        // the largest absolute value it takes (see bismarck.sparse_stats).
        Datum d = spi::value(0, 3, &isnull);
        if (standardize && !isnull) {
            ArrayType *arr = DatumGetArrayTypeP(d);
            const double *s = reinterpret_cast<const double *>(ARR_DATA_PTR(arr));
            if (int64_t(s[1]) == dim && s[0] > 0) {
                scaler.assign(2 * dim, 0.0);
                for (int64_t j = 0; j < dim; ++j)
                    scaler[dim + j] = s[2 + j] > 1e-300 ? 1.0 / s[2 + j] : 1.0;
            }
        }
    } else {
        Datum d = spi::value(0, 3, &isnull);
        if (isnull) fail(ERRCODE_NO_DATA_FOUND, "no feature statistics");
        ArrayType *arr = DatumGetArrayTypeP(d);
        const double *s = reinterpret_cast<const double *>(ARR_DATA_PTR(arr));
        dim = int64_t(s[1]);
        if (dim < 1)
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                 "features column \"" + fname_col + "\" holds empty arrays");
        if (transformed && dim != transform.dim())
            fail(ERRCODE_INTERNAL_ERROR, "encoded features have " + std::to_string(dim) +
                                             " elements, the transform " +
                                             std::to_string(transform.dim()));
        if (standardize) {
            scaler.resize(2 * dim);
            for (int64_t j = 0; j < dim; ++j) {
                const double sd = std::sqrt(s[2 + dim + j] / s[0]);
                scaler[j] = s[2 + j];
                scaler[dim + j] = sd > 1e-12 * std::max(1.0, std::abs(s[2 + j])) ? 1.0 / sd : 1.0;
            }
            // One-hot features stay 0 / 1, as scikit-learn's OneHotEncoder leaves them.
            int64_t j = 0;
            for (const igd::FeatureColumn &c : transform.columns) {
                if (c.kind == igd::FeatureColumn::Kind::category)
                    for (int64_t q = j; q < j + c.width(); ++q) {
                        scaler[q] = 0.0;
                        scaler[dim + q] = 1.0;
                    }
                j += c.width();
            }
        }
    }
    std::string label_sql;
    if (real) {
        if (spi::int64_value(0, 8) > 0)
            fail(ERRCODE_DATA_EXCEPTION,
                 "label column \"" + lname_col + "\" contains NaN or infinity");
        label.mean = spi::float8_value(0, 6);
        const double sd = spi::float8_value(0, 7);
        label.scale = sd > 1e-12 * std::max(1.0, std::abs(label.mean)) ? sd : 1.0;
        // The model learns the standardised target; prediction undoes it, and the loss reported
        // is in the target's own units.
        label_sql =
            "((" + l.sql + ")::pg_catalog.float8 - " + fmt(label.mean) + ") / " + fmt(label.scale);
        run.loss_scale = label.scale * label.scale;
    } else {
        // step: statistics: the classes, sorted as the label's type sorts (GROUP BY runs where
        // the data is, also on a distributed table)
        spi::exec("SELECT y::text, n FROM (SELECT " + l.sql +
                      " AS y, pg_catalog.count(*) AS n FROM " + run.source_sql + " WHERE " +
                      run.not_null + " GROUP BY 1 ORDER BY 1 LIMIT " +
                      std::to_string(igd::kMaxClasses + 1) + ") AS c",
                  {}, true);
        for (uint64_t i = 0; i < SPI_processed; ++i) {
            label.classes.push_back(spi::text_value(i, 1));
            label.counts.push_back(spi::int64_value(i, 2));
        }
        if (int64_t(label.classes.size()) > igd::kMaxClasses)
            fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                 "label column \"" + lname_col + "\" has more than " +
                     std::to_string(igd::kMaxClasses) + " distinct values",
                 {},
                 "A classifier may have at most " + std::to_string(igd::kMaxClasses) +
                     " classes; for a numeric target use train_linear_regression.");
        if (label.classes.size() < 2)
            fail(ERRCODE_DATA_EXCEPTION,
                 "every label in column \"" + lname_col + "\" is " + label.classes.at(0), {},
                 "A classifier needs rows of at least two classes.");
        label.target = label.classes.size() == 2 ? Target::binary : Target::classes;
        // The class index of each row: its position among the classes (a typed comparison, so
        // that numerics written 2.0 and 2.00 are one class, as GROUP BY found them; bpchar
        // without a length, which plain "character" would cut to one letter).
        label_sql = "(pg_catalog.array_position(" + spi::literal(array_literal(label.classes)) +
                    "::" + array_type_sql(l.type) + ", " + l.sql + ") - 1)::pg_catalog.float8";
        // Numbers that are their own class index (0 and 1, or 0 .. k-1; or -1 and 1, which the
        // step takes as they are) go to the step as they are: array_position costs an iterator,
        // an allocation and a comparison call per element for every row of every epoch.
        if (l.type == INT2OID || l.type == INT4OID || l.type == INT8OID || l.type == FLOAT4OID ||
            l.type == FLOAT8OID || l.type == NUMERICOID) {
            bool own_index = true;
            for (size_t i = 0; i < label.classes.size() && own_index; ++i) {
                char *end = nullptr;
                const double v = std::strtod(label.classes[i].c_str(), &end);
                const double want =
                    (label.classes.size() == 2 && i == 0 && v == -1.0) ? -1.0 : double(i);
                own_index = end && *end == '\0' && v == want;
            }
            if (own_index) label_sql = "(" + l.sql + ")::pg_catalog.float8";
        }
    }
    const int classes = real ? 0 : int(label.classes.size());
    // epochs by default: enough for about 1,000,000 steps, at most 1000 and at least 3 (20
    // without averaging): a small table needs many passes for the average of the iterates to
    // reach the optimum closely enough that held-out predictions stop changing (digits, 1,437
    // rows: about 600, half a second; the stopping rule ends most runs early); on a large one
    // the average of the iterates of the second and third passes is at the optimum (581,012 x 54
    // rows: objective 0.30725 after 2 or 3 epochs and after 20, bench/), while plain SGD's last
    // iterate still wanders.
    if (!run.opt.epochs_given)
        run.opt.epochs = int(
            std::clamp<int64_t>((1000000 + run.rows - 1) / run.rows, run.average ? 3 : 20, 1000));
    // l2 by default: 1 / rows, the regularisation of scikit-learn's defaults (C = 1 for
    // LogisticRegression and LinearSVC, alpha = 1 for Ridge) in this objective's terms.
    if (!run.opt.l2_given) run.opt.l2 = 1.0 / double(run.rows);
    if (!models::linear_task_for(trainer, classes, &run.task))
        fail(ERRCODE_INTERNAL_ERROR, "no model for this label");
    run.inputs = {features_sql, label_sql};
    run.input_names = {"features", "label"};

    igd::ModelInfo m{};
    m.task = uint8_t(run.task);
    m.outputs = models::with_linear_model(
        run.task, [&](auto model) { return decltype(model)::outputs(classes); });
    m.dim = dim;
    m.n_params = models::linear_params(m.outputs, dim);
    m.n_scaler = int64_t(scaler.size());
    m.alpha = 0.1;
    m.value_min = -INFINITY;
    m.value_max = INFINITY;
    m.target_mean = label.mean;
    m.target_scale = label.scale;
    std::vector<igd::meta::Section> meta;
    if (!real) {
        meta.push_back({igd::meta::label_type, {label.type_name}});
        meta.push_back({igd::meta::classes, label.classes});
    }
    // The feature names and the transform, replayed by prediction from a row. A dense vector
    // column is recorded as an array column (up to a million elements).
    if (!transformed && !sparse && dim <= 1000000) {
        igd::FeatureColumn c;
        c.kind = igd::FeatureColumn::Kind::array;
        c.name = spec.inputs[0].name;
        c.type = type_name(spec.inputs[0].type);
        c.means.assign(size_t(dim), 0.0);
        transform.columns = {std::move(c)};
    }
    if (!transform.columns.empty()) {
        meta.push_back({igd::meta::features, transform.feature_names()});
        meta.push_back(transform.section());
    }
    // class_weight => 'balanced': each class weighs rows / (classes x its rows), as
    // scikit-learn's, so that every class counts as much in the loss
    std::vector<double> class_weights;
    const std::string class_weight = a.text("class_weight", "");
    if (!class_weight.empty()) {
        if (class_weight != "balanced")
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "class_weight must be 'balanced', not '" + class_weight + "'");
        if (real) fail(ERRCODE_INVALID_PARAMETER_VALUE, "class_weight applies to classifiers only");
        int64_t total_rows = 0;
        for (int64_t c : label.counts) total_rows += c;
        for (int64_t c : label.counts)
            class_weights.push_back(double(total_rows) / (double(label.counts.size()) * double(c)));
        m.n_class_weights = int32_t(class_weights.size());
    }
    StateHeader *init = new_state(m, igd::meta::encode(meta));
    if (!class_weights.empty())
        memcpy(const_cast<double *>(igd::state_class_weights(init)), class_weights.data(),
               sizeof(double) * class_weights.size());
    init->epoch.batch = batch;
    if (!scaler.empty())
        memcpy(const_cast<double *>(igd::state_scaler(init)), scaler.data(),
               sizeof(double) * scaler.size());
    if (!run.opt.init_model.empty()) warm_start(run, init);

    catalog::Record &rec = run.record;
    rec.name = run.model;
    rec.task = std::string(models::task_name(run.task));
    rec.source = run.source_sql;
    rec.columns_sql = array_literal({fname_col, lname_col});
    rec.dimension = dim;
    run.options_json =
        ", \"batch\": " + std::to_string(batch) +
        ", \"average\": " + (run.average ? "true" : "false") +
        ", \"standardize\": " + (!scaler.empty() ? "true" : "false") +
        ", \"sparse\": " + (sparse ? "true" : "false") +
        ", \"features\": " + json_string(transformed ? "columns" : "vector") +
        ", \"max_categories\": " + std::to_string(max_categories) +
        ", \"class_weight\": " + (class_weight.empty() ? "null" : json_string(class_weight));
    const Summary s = train(run, init);
    spi::finish();
    return summary_row(fcinfo, run, s);
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::models::Task;

BISMARCK_FUNCTION(bismarck_train_logistic) {
    return train_linear(fcinfo, "logistic");
}
BISMARCK_FUNCTION(bismarck_train_svm) {
    return train_linear(fcinfo, "svm");
}
BISMARCK_FUNCTION(bismarck_train_linear_regression) {
    return train_linear(fcinfo, "linear_regression");
}

// train_lmf(model, source, row_column, column_column, value_column, rank, <options>, max_norm)
BISMARCK_FUNCTION(bismarck_train_lmf) {
    using bismarck::models::Lmf;
    Run run;
    run.task = Task::lmf;
    run.sample_rows = 20000;
    spi::connect();
    const Args a = args_of(fcinfo);
    setup(run, a, "lmf");
    const std::string rname = a.text("row_column");
    const std::string cname = a.text("column_column");
    const std::string vname = a.text("value_column");
    const int rank = a.has("rank") ? DatumGetInt32(a.get("rank")) : 10;
    if (rank < 1 || rank > 1000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "rank must be between 1 and 1000, not " + std::to_string(rank));
    const double max_norm = checked(a.number("max_norm", 0.0), "max_norm", 0.0, false);
    if (run.opt.on_null == "impute")
        fail(ERRCODE_INVALID_PARAMETER_VALUE, "on_null => 'impute' does not apply to train_lmf", {},
             "A rating with a NULL id or value is skipped (on_null => 'skip') or an error.");
    const Column r = column(run.relid, run.source_sql, rname, "row");
    const Column c = column(run.relid, run.source_sql, cname, "column");
    const Column v = column(run.relid, run.source_sql, vname, "value");
    for (const Column &col : {r, c})
        if (col.type != INT2OID && col.type != INT4OID && col.type != INT8OID)
            fail(ERRCODE_DATATYPE_MISMATCH,
                 "id column \"" + col.name + "\" has type " + type_name(col.type), {},
                 "Row and column ids must be integers (smallint, integer or bigint).");
    if (!is_number_type(v.type))
        fail(ERRCODE_DATATYPE_MISMATCH,
             "value column \"" + vname + "\" has type " + type_name(v.type));
    run.inputs = {r.sql + "::pg_catalog.int8", c.sql + "::pg_catalog.int8",
                  v.sql + "::pg_catalog.float8"};
    run.input_names = {"row_id", "col_id", "value"};
    run.not_null =
        r.sql + " IS NOT NULL AND " + c.sql + " IS NOT NULL AND " + v.sql + " IS NOT NULL";
    run.epoch_filter = run.sample_filter = run.not_null;
    // step: statistics
    spi::exec("SELECT count(*), count(*) FILTER (WHERE NOT (" + run.not_null + ")), min(" + r.sql +
                  "), max(" + r.sql + "), min(" + c.sql + "), max(" + c.sql + "), avg(" + v.sql +
                  "::float8) FILTER (WHERE " + run.not_null + "), count(*) FILTER (WHERE " + v.sql +
                  "::float8 IN ('NaN', 'Infinity', '-Infinity')), min(" + v.sql +
                  "::float8), max(" + v.sql + "::float8) FROM " + run.source_sql,
              {}, true);
    const int64_t total = spi::int64_value(0, 1);
    run.skipped = spi::int64_value(0, 2);
    run.rows = total - run.skipped;
    if (run.skipped > 0 && run.opt.on_null == "error")
        fail(
            ERRCODE_NULL_VALUE_NOT_ALLOWED,
            std::to_string(run.skipped) + " rows of " + run.source_sql + " have a NULL id or value",
            {}, "Use on_null => 'skip' to skip them.");
    if (run.rows == 0)
        fail(ERRCODE_NO_DATA_FOUND, "table " + run.source_sql + " has no rows to train on");
    if (spi::int64_value(0, 8) > 0)
        fail(ERRCODE_DATA_EXCEPTION, "value column \"" + vname + "\" contains NaN or infinity");
    const int64_t rmin = spi::int64_value(0, 3), rmax = spi::int64_value(0, 4);
    const int64_t cmin = spi::int64_value(0, 5), cmax = spi::int64_value(0, 6);
    const double mean = spi::float8_value(0, 7);
    const double vmin = spi::float8_value(0, 9), vmax = spi::float8_value(0, 10);
    // Ids index the factor matrices directly, so they bound the model's size.
    const int64_t id_limit = bismarck::igd::kMaxParams / (rank + 2) - 1;
    for (const auto &[lo, hi, name] :
         {std::tuple{rmin, rmax, rname}, std::tuple{cmin, cmax, cname}}) {
        if (lo < 0)
            fail(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                 "id column \"" + name + "\" has a negative id " + std::to_string(lo), {},
                 "Ids must be between 0 and " + std::to_string(id_limit) + " at rank " +
                     std::to_string(rank) + ".");
        if (hi > id_limit)
            fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                 "id column \"" + name + "\" has id " + std::to_string(hi) +
                     ", too large for a rank " + std::to_string(rank) + " model",
                 "Ids index the factor matrices directly: they must be between 0 and " +
                     std::to_string(id_limit) + " at this rank; renumber them densely.");
    }
    if ((rmax + 1 + cmax + 1) * int64_t(rank + 2) + 1 > bismarck::igd::kMaxParams)
        fail(ERRCODE_PROGRAM_LIMIT_EXCEEDED,
             "the ids are too large for a rank " + std::to_string(rank) + " model",
             "Renumber row and column ids densely from 0.");
    const Lmf::Shape shape{rmax + 1, cmax + 1, rank};
    bismarck::igd::ModelInfo m{};
    m.task = uint8_t(Task::lmf);
    m.outputs = 1;
    m.dim = rank;
    m.rows = shape.rows;
    m.cols = shape.cols;
    m.n_params = shape.size();
    m.alpha = 0.1;
    m.max_norm = max_norm;
    m.value_min = vmin;
    m.value_max = vmax;
    m.target_scale = 1.0;
    StateHeader *init = new_state(m, bismarck::igd::meta::encode({}));
    Lmf::initialise(bismarck::igd::state_params(init), shape, mean, uint64_t(run.opt.seed));

    bismarck::uda::catalog::Record &rec = run.record;
    rec.name = run.model;
    rec.task = "lmf";
    rec.source = run.source_sql;
    rec.columns_sql = array_literal({rname, cname, vname});
    rec.dimension = rank;
    run.options_json = ", \"rank\": " + std::to_string(rank) + ", \"max_norm\": " + fmt(max_norm) +
                       ", \"rows\": " + std::to_string(shape.rows) +
                       ", \"cols\": " + std::to_string(shape.cols) + ", \"mean\": " + fmt(mean);
    const Summary s = train(run, init);
    spi::finish();
    return summary_row(fcinfo, run, s);
}
