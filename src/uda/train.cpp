// The training driver: bismarck.train_logistic, train_svm and train_lmf.
//
//   validate the call  -> one scan for statistics (row count, NULLs, labels, feature means and
//   scales) -> shuffle once into a scratch copy -> calibrate the step size on a sample ->
//   for each epoch: one aggregate query over the copy (NOTICE + a row in training_log, step
//   decay, convergence test, interrupts) -> one loss-only scan of the final model -> the model
//   is written to the catalog in the caller's transaction.
//
// Everything a run creates (the scratch table, the shared-memory segment, GUC changes, catalog
// rows) belongs to the caller's transaction, so an error or a cancel at any point leaves nothing.
#include "uda/catalog.hpp"
#include "uda/progress.hpp"  // progress (issue 14)
#include "uda/shared_model.hpp"
#include "uda/spi.hpp"
#include "uda/state.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

#include <chrono>
#include <tuple>
#include <iomanip>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace bismarck::uda {
namespace {

using igd::Parallelism;
using models::Task;

using igd::kEvalOnly;
using igd::kNoDivergence;
using igd::kNullIsError;

// Options every training function takes, in this order, after its own leading arguments.
struct Options {
    int epochs = 20;
    double step = 0.0;  // 0: auto
    double decay = 0.95;
    double l2 = 0.0, l1 = 0.0;
    double tolerance = 1e-4;
    std::string shuffle = "once";
    std::string parallelism = "serial";
    int workers = -1;
    int64_t seed = 0;
    bool seed_given = false;
    std::string on_null = "skip";
    bool replace = false;
};
inline constexpr int kCommonOptions = 12;

std::string text_arg(FunctionCallInfo fcinfo, int i, const char *what) {
    if (PG_ARGISNULL(i))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(what) + " must not be NULL");
    char *s = nullptr;
    pg_call([&] { s = text_to_cstring(PG_GETARG_TEXT_PP(i)); });
    return s;
}

std::string fmt(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}

double number(double v, const char *name, double lo, bool lo_open) {
    if (!std::isfinite(v) || v < lo || (lo_open && v == lo))
        fail(ERRCODE_INVALID_PARAMETER_VALUE, std::string(name) + " must be " +
                                                  (lo_open ? "greater than " : "at least ") +
                                                  fmt(lo) + ", not " + fmt(v));
    return v;
}

Options read_options(FunctionCallInfo fcinfo, int k) {
    Options o;
    auto has = [&](int i) { return !PG_ARGISNULL(k + i); };
    if (has(0)) o.epochs = PG_GETARG_INT32(k + 0);
    if (o.epochs < 1 || o.epochs > 100000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "epochs must be between 1 and 100000, not " + std::to_string(o.epochs));
    if (has(1)) o.step = PG_GETARG_FLOAT8(k + 1);
    if (has(2)) o.decay = number(PG_GETARG_FLOAT8(k + 2), "decay", 0.0, true);
    if (o.decay > 1.0) fail(ERRCODE_INVALID_PARAMETER_VALUE, "decay must be at most 1");
    if (has(3)) o.l2 = number(PG_GETARG_FLOAT8(k + 3), "l2", 0.0, false);
    if (has(4)) o.l1 = number(PG_GETARG_FLOAT8(k + 4), "l1", 0.0, false);
    if (has(5)) o.tolerance = number(PG_GETARG_FLOAT8(k + 5), "tolerance", 0.0, false);
    if (has(6)) o.shuffle = text_arg(fcinfo, k + 6, "shuffle");
    if (o.shuffle != "once" && o.shuffle != "never" && o.shuffle != "every_epoch")
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "shuffle must be 'once', 'never' or 'every_epoch', not '" + o.shuffle + "'");
    if (has(7)) o.parallelism = text_arg(fcinfo, k + 7, "parallelism");
    if (o.parallelism != "serial" && o.parallelism != "shared_memory" &&
        o.parallelism != "shared_memory_locked" && o.parallelism != "model_averaging")
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "parallelism must be 'serial', 'shared_memory', 'shared_memory_locked' or "
             "'model_averaging', not '" +
                 o.parallelism + "'");
    if (has(8)) {
        o.workers = PG_GETARG_INT32(k + 8);
        if (o.workers < 0 || o.workers > 64)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "workers must be between 0 and 64, not " + std::to_string(o.workers));
    }
    if (has(9)) {
        o.seed = PG_GETARG_INT64(k + 9);
        o.seed_given = true;
    } else {
        std::random_device rd;
        o.seed = int64_t((uint64_t(rd()) << 31 ^ rd()) & 0x7fffffffffffull);
    }
    if (has(10)) o.on_null = text_arg(fcinfo, k + 10, "on_null");
    if (o.on_null != "skip" && o.on_null != "error")
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "on_null must be 'skip' or 'error', not '" + o.on_null + "'");
    if (has(11)) o.replace = PG_GETARG_BOOL(k + 11);
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
    std::string sql;
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
    return {spi::ident(name), type};
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

// One training run. The common machinery of every model; what differs (the input columns, the
// initial state, the penalty) is given by the caller.
struct Run {
    Task task;
    std::string model, source_sql;
    Options opt;
    spi::GucScope gucs;               // the run's settings, put back when it returns
    std::vector<std::string> inputs;  // SQL expressions over the source, in the step's order
    std::vector<std::string> input_names;
    std::string not_null;  // a WHERE clause keeping rows with no NULL input
    int64_t rows = 0, skipped = 0;
    int64_t sample_rows = 2000;
    MemoryContext context = nullptr;  // lives for the call; states are copied here
    Oid state_type = InvalidOid;
    int counter = 0;
    std::string table;  // the scratch copy, or the source itself (shuffle never)
    std::vector<std::string> tables_made;

    std::string new_table_name() {
        // Unpredictable, so that no other user can take the name first and make the run fail.
        std::random_device rd;
        char suffix[24];
        snprintf(suffix, sizeof suffix, "%08x%08x", rd(), rd());
        return "bismarck_work." + spi::ident("train_" + std::to_string(MyProcPid) + "_" +
                                             std::to_string(++counter) + "_" + suffix);
    }

    // A seeded, physically shuffled copy of the rows with no NULL input: ORDER BY random() after
    // setseed() on a serial plan with synchronized scans off is the same order for the same seed.
    std::string shuffled_copy(int64_t seed, int workers) {
        const std::string name = new_table_name();
        gucs.set("max_parallel_workers_per_gather", "0");
        spi::set_random_seed(seed);
        std::string cols;
        for (size_t i = 0; i < inputs.size(); ++i)
            cols += (i ? ", " : "") + inputs[i] + " AS " + input_names[i];
        spi::exec("CREATE UNLOGGED TABLE " + name + " WITH (autovacuum_enabled = false" +
                  (workers > 0 ? ", parallel_workers = " + std::to_string(workers) : "") +
                  ") AS SELECT " + cols + " FROM " + source_sql + " WHERE " + not_null +
                  " ORDER BY pg_catalog.random()");
        tables_made.push_back(name);
        return name;
    }

    std::string epoch_sql(const std::string &from) const {
        std::string args;
        for (size_t i = 0; i < inputs.size(); ++i) args += input_names[i] + ", ";
        return "SELECT bismarck." + std::string(models::task_name(task)) + "_epoch(" + args +
               "$1) FROM " + from;
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

// The objective of the model an epoch started from: mean loss + penalty at `prev`.
double objective(const StateHeader *h, const double *prev) {
    if (h->rows_seen == 0) return NAN;
    // lmf: the regularisers are part of each cell's term already
    const double penalty =
        task_of(h) == Task::lmf ? 0.0 : igd::linear_penalty(prev, h->dim, h->l2, h->l1);
    return h->loss_sum / double(h->rows_seen) + penalty;
}

struct Summary {
    int64_t rows, skipped, dim;
    int epochs;
    double loss, step, seconds;
    bool converged;
    int workers;
};

// The epoch loop shared by every model: `init` is the initial model (no prev block).
Summary train(Run &run, StateHeader *init, const catalog::Record &base) {
    const Options &o = run.opt;
    const double t0 = now_seconds();
    const Parallelism par = parallelism_of(o.parallelism);
    const bool parallel = par != Parallelism::serial;
    int workers = 0;
    if (parallel) {
        workers = o.workers;
        if (workers < 0) {
            const char *v = GetConfigOption("max_parallel_workers_per_gather", false, false);
            workers = v ? atoi(v) : 2;
            if (workers <= 0) workers = 2;
        }
    }
    run.gucs.set("synchronize_seqscans", "off");
    progress::set_workers(workers);  // progress (issue 14)
    progress::phase("shuffle");  // progress (issue 14)

    // Shuffle once (or never: scan the source as it is).
    if (o.shuffle == "never") {
        // the source as it is, projected to the inputs under the scratch copy's column names
        std::string cols;
        for (size_t i = 0; i < run.inputs.size(); ++i)
            cols += (i ? ", " : "") + run.inputs[i] + " AS " + run.input_names[i];
        run.table = "(SELECT " + cols + " FROM " + run.source_sql + ") AS source";
    } else {
        run.table = run.shuffled_copy(o.seed, workers);
    }
    if (parallel && workers > 0) {
        run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
        run.gucs.set("parallel_setup_cost", "0");
        run.gucs.set("parallel_tuple_cost", "0");
        run.gucs.set("min_parallel_table_scan_size", "0");
    } else {
        run.gucs.set("max_parallel_workers_per_gather", "0");
    }

    init->parallelism = uint8_t(par);
    init->seed = uint64_t(o.seed);
    init->l2 = o.l2;
    init->l1 = o.l1;
    if (o.on_null == "error") init->flags |= kNullIsError;

    // Step size: given, or calibrated on a sample (as Bottou's SGD does): for each candidate, one
    // pass over the first rows of the shuffled copy from the initial model, then the loss of the
    // result on the next rows (held out, so that a step that merely fits the sample fast does
    // not win); the candidate with the lowest held-out loss is kept.
    double alpha0 = o.step;
    if (alpha0 == 0.0) {
        progress::phase("step size");  // progress (issue 14)
        run.gucs.set("max_parallel_workers_per_gather", "0");
        const std::string n = std::to_string(run.sample_rows);
        spi::Plan sample, held_out;
        sample.prepare(run.epoch_sql("(SELECT * FROM " + run.table + " LIMIT " + n + ") AS sample"),
                       {run.state_type});
        held_out.prepare(run.epoch_sql("(SELECT * FROM " + run.table + " OFFSET " + n + " LIMIT " +
                                       n + ") AS held_out"),
                         {run.state_type});
        const bool small = run.rows < 2 * run.sample_rows;  // too few rows to hold any out
        double best = INFINITY;
        alpha0 = 0.01;
        StateHeader *probe = copy_state(init, false);
        probe->parallelism = uint8_t(Parallelism::serial);
        probe->flags |= kNoDivergence;
        for (double a : igd::kCalibrationSteps) {
            probe->alpha = a;
            StateHeader *trained = run.run_epoch(sample, probe);
            StateHeader *next = copy_state(trained, false);
            next->flags |= kEvalOnly;
            StateHeader *eval = run.run_epoch(small ? sample : held_out, next);
            const double loss = std::isfinite(trained->loss_sum)
                                    ? objective(eval, igd::state_prev(eval))
                                    : INFINITY;
            if (std::isfinite(loss) && loss < best) {
                best = loss;
                alpha0 = a;
            }
            pfree(trained);
            pfree(next);
            pfree(eval);
        }
        pfree(probe);
        if (parallel && workers > 0)
            run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
    }

    // Shared memory: the model lives in a segment every process attaches.
    dsm_segment *seg = nullptr;
    SharedSegment *shared = nullptr;
    StateHeader *state = init;
    if (par == Parallelism::shared_memory || par == Parallelism::shared_memory_locked) {
        uint64_t handle = 0, token = 0;
        shared = shared_create(init->n_params, &seg, &handle, &token);
        memcpy(segment_params(shared), igd::state_params(init), sizeof(double) * init->n_params);
        // The per-epoch state carries only the header and the scaler.
        StateHeader *s = new_state(task_of(init), init->dim, init->rows, init->cols, init->n_params,
                                   init->n_scaler, false, true);
        const uint8_t flags = s->flags;
        memcpy(reinterpret_cast<char *>(s) + VARHDRSZ,
               reinterpret_cast<const char *>(init) + VARHDRSZ, sizeof(StateHeader) - VARHDRSZ);
        s->flags = flags | (init->flags & kNullIsError);
        if (init->n_scaler)
            memcpy(igd::state_params(s), igd::state_scaler(init), sizeof(double) * init->n_scaler);
        s->shared_handle = handle;
        s->shared_token = token;
        state = s;
    }

    spi::Plan plan;
    plan.prepare(run.epoch_sql(run.table), {run.state_type});

    catalog::delete_log(run.model);
    double previous = NAN, loss = NAN;
    bool converged = false;
    int epoch = 0, ran_workers = 0;
    for (; epoch < o.epochs; ++epoch) {
        check_for_interrupts();
        progress::epoch(epoch + 1, run.rows, loss);  // progress (issue 14)
        const double te = now_seconds();
        if (o.shuffle == "every_epoch" && epoch > 0) {
            run.table = run.shuffled_copy(o.seed + epoch, workers);
            if (parallel && workers > 0)
                run.gucs.set("max_parallel_workers_per_gather", std::to_string(workers));
            plan.prepare(run.epoch_sql(run.table), {run.state_type});
        }
        state->epoch = epoch;
        state->alpha = igd::step_size_at(alpha0, o.decay, epoch);
        if (shared)
            memcpy(segment_prev(shared), segment_params(shared), sizeof(double) * state->n_params);
        StateHeader *out = run.run_epoch(plan, state);
        if (shared && models::is_linear(task_of(out)) && out->batch > 1 && out->rows_seen > 0) {
            // batched updates made after each process's last exchange (summed by the combine)
            double *base = igd::state_prev(out);
            igd::exchange<igd::PlainAccess>(segment_params(shared), base, base + out->n_params,
                                            out->n_params);
        }
        const double *prev = shared ? segment_prev(shared) : igd::state_prev(out);
        loss = objective(out, prev);
        ran_workers = int(out->participants);
        const double seconds = now_seconds() - te;
        std::ostringstream msg;
        msg.precision(6);
        msg << "epoch " << epoch + 1 << "/" << o.epochs << " loss " << std::fixed << loss
            << " step " << std::defaultfloat << state->alpha << " " << std::fixed
            << std::setprecision(2) << seconds << " s";
        if (parallel) msg << " (" << o.parallelism << ", " << ran_workers << " workers)";
        notice(msg.str());
        catalog::log_epoch(run.model, epoch + 1, loss, state->alpha, seconds, out->rows_seen,
                           o.parallelism, ran_workers);
        if (!shared) {
            if (state != init) pfree(state);
            state = out;
        } else {
            pfree(out);
        }
        if (igd::converged(previous, loss, o.tolerance)) {
            converged = true;
            ++epoch;
            break;
        }
        previous = loss;
    }

    // The final model, without the shared segment, and its exact loss (one loss-only scan).
    StateHeader *final_model;
    if (shared) {
        final_model = copy_state(init, false);
        memcpy(igd::state_params(final_model), segment_params(shared),
               sizeof(double) * init->n_params);
        pg_call([&] { dsm_detach(seg); });
    } else {
        final_model = copy_state(state, false);
    }
    final_model->parallelism = uint8_t(Parallelism::serial);
    final_model->flags = 0;
    final_model->epoch = epoch;
    progress::phase("final loss", run.rows);  // progress (issue 14)
    {
        StateHeader *eval = copy_state(final_model, false);
        eval->flags |= kEvalOnly;
        run.gucs.set("max_parallel_workers_per_gather", "0");
        StateHeader *out = run.run_epoch(plan, eval);
        loss = objective(out, igd::state_prev(out));
    }
    final_model->rows_seen = 0;
    final_model->loss_sum = 0.0;
    final_model->nulls_skipped = 0;
    final_model->participants = 0;
    final_model->alpha = alpha0;

    for (const std::string &t : run.tables_made) spi::exec("DROP TABLE " + t);

    progress::phase("saving");  // progress (issue 14)
    catalog::Record rec = base;
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
       << base.options_json << "}";
    rec.options_json = js.str();
    catalog::save(rec);
    run.gucs.close();
    progress::end();  // progress (issue 14)
    return {run.rows, run.skipped, base.dimension, epoch,      loss,
            alpha0,   rec.seconds, converged,      ran_workers};
}

Datum summary_row(FunctionCallInfo fcinfo, const std::string &model, Task task, const Summary &s,
                  const std::string &parallelism) {
    TupleDesc desc;
    Datum result = 0;
    pg_call([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "return type must be a row type");
        desc = BlessTupleDesc(desc);
        Datum v[12];
        bool n[12] = {false};
        v[0] = CStringGetTextDatum(model.c_str());
        v[1] = CStringGetTextDatum(std::string(models::task_name(task)).c_str());
        v[2] = Int64GetDatum(s.rows);
        v[3] = Int64GetDatum(s.skipped);
        v[4] = Int64GetDatum(s.dim);
        v[5] = Int32GetDatum(s.epochs);
        v[6] = Float8GetDatum(s.loss);
        v[7] = Float8GetDatum(s.step);
        v[8] = Float8GetDatum(s.seconds);
        v[9] = BoolGetDatum(s.converged);
        v[10] = CStringGetTextDatum(parallelism.c_str());
        v[11] = Int32GetDatum(s.workers);
        result = HeapTupleGetDatum(heap_form_tuple(desc, v, n));
    });
    return result;
}

// Source table: must exist (regclass did that) and be readable by the caller.
std::string check_source(Oid relid) {
    AclResult acl = ACLCHECK_OK;
    pg_call([&] { acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT); });
    const std::string name = spi::relation(relid);
    if (acl != ACLCHECK_OK)
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + name, {},
             "Training reads the source with your privileges: you need SELECT on it.");
    return name;
}

void setup(Run &run, FunctionCallInfo fcinfo, int first_option) {
    run.model = text_arg(fcinfo, 0, "model");
    catalog::check_name(run.model);
    if (PG_ARGISNULL(1)) fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "source must not be NULL");
    run.opt = read_options(fcinfo, first_option);
    catalog::check_can_write(run.model, run.opt.replace);
    pg_call([&] {
        run.context = AllocSetContextCreate(CurrentMemoryContext, "bismarck training",
                                            ALLOCSET_DEFAULT_SIZES);
    });
    run.state_type = bismarck_type("model_state");
    progress::begin(run.model, std::string(models::task_name(run.task)), run.opt.parallelism,
                    run.opt.workers, run.opt.epochs);  // progress (issue 14)
    progress::phase("statistics");  // progress (issue 14)
}

}  // namespace
}  // namespace bismarck::uda

using namespace bismarck::uda;
using bismarck::models::Task;

// train_logistic / train_svm(model, source, features, label, <common options>, standardize)
BISMARCK_FUNCTION(bismarck_train_linear) {
    Run run;
    const char *fname = get_func_name(fcinfo->flinfo->fn_oid);
    run.task = std::string(fname ? fname : "") == "train_svm" ? Task::svm : Task::logistic;
    spi::connect();
    setup(run, fcinfo, 4);
    const Oid relid = PG_GETARG_OID(1);
    run.source_sql = check_source(relid);
    const std::string fname_col = text_arg(fcinfo, 2, "features");
    const std::string lname_col = text_arg(fcinfo, 3, "label");
    const bool standardize =
        PG_ARGISNULL(4 + kCommonOptions) ? true : PG_GETARG_BOOL(4 + kCommonOptions);
    const Column f = column(relid, run.source_sql, fname_col, "features");
    const Column l = column(relid, run.source_sql, lname_col, "label");
    const Oid sparse_type = bismarck_type("sparsevec");
    const bool sparse = f.type == sparse_type;
    // Shared memory: a dense row updates every weight, so per-row Hogwild makes the processes
    // fight over the model's cache lines on every row; by default each process steps a private
    // copy and exchanges it with the shared model every kDenseSharedBatch rows (igd::exchange).
    // A sparse row touches few weights, and an exchange costs the whole dimension: per-row.
    constexpr int kDenseSharedBatch = 32;
    const bool shared_memory = run.opt.parallelism == "shared_memory";
    int batch = shared_memory && !sparse ? kDenseSharedBatch : 1;
    if (!PG_ARGISNULL(5 + kCommonOptions)) {
        batch = PG_GETARG_INT32(5 + kCommonOptions);
        if (batch < 1 || batch > 1000000)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "batch must be between 1 and 1000000, not " + std::to_string(batch));
        if (batch > 1 && !shared_memory)
            fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "batch applies only to parallelism => 'shared_memory', not '" +
                     run.opt.parallelism + "'",
                 {}, "Leave batch out, or train with parallelism => 'shared_memory'.");
    }
    if (f.type != FLOAT8ARRAYOID && f.type != FLOAT4ARRAYOID && !sparse)
        fail(ERRCODE_DATATYPE_MISMATCH,
             "features column \"" + fname_col + "\" has type " + type_name(f.type), {},
             "Features must be float8[], float4[] or bismarck.sparsevec; cast other arrays "
             "with features => a column of type float8[].");
    std::string label_sql;
    switch (l.type) {
        case BOOLOID:
            label_sql = "(CASE WHEN " + l.sql + " THEN 1.0 ELSE 0.0 END)::float8";
            break;
        case INT2OID:
        case INT4OID:
        case INT8OID:
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
            label_sql = l.sql + "::float8";
            break;
        default:
            fail(ERRCODE_DATATYPE_MISMATCH,
                 "label column \"" + lname_col + "\" has type " + type_name(l.type), {},
                 "Labels must be boolean, or numbers 0/1 or -1/1.");
    }
    run.inputs = {f.sql, label_sql};
    run.input_names = {"features", "label"};
    run.not_null = f.sql + " IS NOT NULL AND " + l.sql + " IS NOT NULL";

    // One scan for everything the run needs to know before it starts. The subquery exposes only
    // its own three columns, so the source's column names cannot clash with them.
    const std::string stats_fn =
        sparse ? "NULL::float8[]" : "bismarck.feature_stats(f) FILTER (WHERE ok)";
    spi::exec(
        "SELECT count(*), count(*) FILTER (WHERE NOT ok), " + stats_fn +
            ", count(*) FILTER (WHERE ok AND y = 1), count(*) FILTER (WHERE ok AND y IN (0, -1)), "
            "min(y) FILTER (WHERE ok AND (y NOT IN (-1, 0, 1) OR y = 'NaN')), bool_or(ok AND y = "
            "-1), " +
            (sparse ? "min(bismarck.dims(f)) FILTER (WHERE ok), max(bismarck.dims(f)) FILTER "
                      "(WHERE ok)"
                    : "0, 0") +
            " FROM (SELECT " + f.sql + " AS f, " + label_sql + " AS y, (" + run.not_null +
            ") AS ok FROM " + run.source_sql + ") AS s",
        {}, true);
    const int64_t total = spi::int64_value(0, 1);
    run.skipped = spi::int64_value(0, 2);
    run.rows = total - run.skipped;
    bool isnull;
    const int64_t pos = spi::int64_value(0, 4), neg = spi::int64_value(0, 5);
    bool bad_null = true;
    spi::value(0, 6, &bad_null);
    if (!bad_null)
        fail(ERRCODE_DATA_EXCEPTION,
             "label " + spi::text_value(0, 6) + " in column \"" + lname_col +
                 "\" is not a class label",
             {}, "Labels must be boolean, 0 or 1, or -1 or 1.");
    const bool minus_one = DatumGetBool(spi::value(0, 7, &isnull)) && !isnull;
    if (run.skipped > 0 && run.opt.on_null == "error")
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED,
             std::to_string(run.skipped) + " rows of " + run.source_sql +
                 " have NULL features or labels",
             {}, "Use on_null => 'skip' to skip them.");
    if (run.rows == 0)
        fail(ERRCODE_NO_DATA_FOUND,
             "table " + run.source_sql +
                 " has no rows with non-NULL features and label to train on");
    if (pos == 0 || neg == 0)
        fail(ERRCODE_DATA_EXCEPTION,
             "every label in column \"" + lname_col + "\" is " + (pos ? "positive" : "negative"),
             {}, "A classifier needs rows of both classes.");
    int64_t dim = 0;
    std::vector<double> scaler;
    if (sparse) {
        dim = spi::int64_value(0, 9);
        if (spi::int64_value(0, 8) != dim)
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR, "sparse features have different dimensions: " +
                                                    std::to_string(spi::int64_value(0, 8)) +
                                                    " and " + std::to_string(dim));
    } else {
        Datum d = spi::value(0, 3, &isnull);
        if (isnull) fail(ERRCODE_NO_DATA_FOUND, "no feature statistics");
        ArrayType *a = DatumGetArrayTypeP(d);
        const double *s = reinterpret_cast<const double *>(ARR_DATA_PTR(a));
        dim = int64_t(s[1]);
        if (dim < 1)
            fail(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                 "features column \"" + fname_col + "\" holds empty arrays");
        if (standardize) {
            scaler.resize(2 * dim);
            for (int64_t j = 0; j < dim; ++j) {
                const double sd = std::sqrt(s[2 + dim + j] / s[0]);
                scaler[j] = s[2 + j];
                scaler[dim + j] = sd > 1e-12 * std::max(1.0, std::abs(s[2 + j])) ? 1.0 / sd : 1.0;
            }
        }
    }
    StateHeader *init =
        new_state(run.task, dim, 0, 0, dim + 1, int64_t(scaler.size()), false, false);
    init->batch = batch;
    if (!scaler.empty())
        memcpy(bismarck::igd::state_params(init) + dim + 1, scaler.data(),
               sizeof(double) * scaler.size());

    catalog::Record rec;
    rec.name = run.model;
    rec.task = std::string(bismarck::models::task_name(run.task));
    rec.source = run.source_sql;
    rec.columns_sql = array_literal({fname_col, lname_col});
    rec.dimension = dim;
    rec.options_json = ", \"batch\": " + std::to_string(batch) +
                       ", \"standardize\": " + (standardize && !sparse ? "true" : "false") +
                       ", \"sparse\": " + (sparse ? "true" : "false") +
                       ", \"label_low\": " + (minus_one ? "-1" : "0");
    const Summary s = train(run, init, rec);
    spi::finish();
    return summary_row(fcinfo, run.model, run.task, s, run.opt.parallelism);
}

// train_lmf(model, source, row_column, column_column, value_column, rank, <common options>,
//           max_norm)
BISMARCK_FUNCTION(bismarck_train_lmf) {
    using bismarck::models::Lmf;
    Run run;
    run.task = Task::lmf;
    run.sample_rows = 20000;
    spi::connect();
    setup(run, fcinfo, 6);
    const Oid relid = PG_GETARG_OID(1);
    run.source_sql = check_source(relid);
    const std::string rname = text_arg(fcinfo, 2, "row_column");
    const std::string cname = text_arg(fcinfo, 3, "column_column");
    const std::string vname = text_arg(fcinfo, 4, "value_column");
    const int rank = PG_ARGISNULL(5) ? 10 : PG_GETARG_INT32(5);
    if (rank < 1 || rank > 1000)
        fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "rank must be between 1 and 1000, not " + std::to_string(rank));
    const double max_norm =
        PG_ARGISNULL(6 + kCommonOptions)
            ? 0.0
            : number(PG_GETARG_FLOAT8(6 + kCommonOptions), "max_norm", 0.0, false);
    const Column r = column(relid, run.source_sql, rname, "row");
    const Column c = column(relid, run.source_sql, cname, "column");
    const Column v = column(relid, run.source_sql, vname, "value");
    for (const auto &[col, name] : {std::pair{r, rname}, std::pair{c, cname}})
        if (col.type != INT2OID && col.type != INT4OID && col.type != INT8OID)
            fail(ERRCODE_DATATYPE_MISMATCH,
                 "id column \"" + name + "\" has type " + type_name(col.type), {},
                 "Row and column ids must be integers (smallint, integer or bigint).");
    if (v.type != INT2OID && v.type != INT4OID && v.type != INT8OID && v.type != FLOAT4OID &&
        v.type != FLOAT8OID && v.type != NUMERICOID)
        fail(ERRCODE_DATATYPE_MISMATCH,
             "value column \"" + vname + "\" has type " + type_name(v.type));
    run.inputs = {r.sql + "::int8", c.sql + "::int8", v.sql + "::float8"};
    run.input_names = {"row_id", "col_id", "value"};
    run.not_null =
        r.sql + " IS NOT NULL AND " + c.sql + " IS NOT NULL AND " + v.sql + " IS NOT NULL";
    spi::exec("SELECT count(*), count(*) FILTER (WHERE NOT (" + run.not_null +
                  ")), "
                  "min(" +
                  r.sql + "), max(" + r.sql + "), min(" + c.sql + "), max(" + c.sql +
                  "), "
                  "avg(" +
                  v.sql + "::float8) FILTER (WHERE " + run.not_null +
                  "), "
                  "count(*) FILTER (WHERE " +
                  v.sql +
                  "::float8 IN ('NaN', 'Infinity', '-Infinity')) "
                  "FROM " +
                  run.source_sql,
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
    StateHeader *init =
        new_state(Task::lmf, rank, shape.rows, shape.cols, shape.size(), 0, false, false);
    Lmf::initialise(bismarck::igd::state_params(init), shape, mean, uint64_t(run.opt.seed));
    init->max_norm = max_norm;

    catalog::Record rec;
    rec.name = run.model;
    rec.task = "lmf";
    rec.source = run.source_sql;
    rec.columns_sql = array_literal({rname, cname, vname});
    rec.dimension = rank;
    rec.options_json = ", \"rank\": " + std::to_string(rank) + ", \"max_norm\": " + fmt(max_norm) +
                       ", \"rows\": " + std::to_string(shape.rows) +
                       ", \"cols\": " + std::to_string(shape.cols) + ", \"mean\": " + fmt(mean);
    const Summary s = train(run, init, rec);
    spi::finish();
    return summary_row(fcinfo, run.model, Task::lmf, s, run.opt.parallelism);
}
