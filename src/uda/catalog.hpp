// The model catalog: bismarck.model_store (one row per model) and bismarck.log_store (one row
// per epoch), read by users through the views bismarck.models and bismarck.training_log.
//
// Users have no privileges on the stores. The extension's functions write them as the stores'
// owner (the way PostgreSQL's own referential-integrity triggers switch user), with search_path
// pinned to pg_catalog, after checking the caller's right to do what it asked: models belong to
// the role that trained them; another role may use one only if granted, and never replace it.
#pragma once

#include "uda/state.hpp"

#include <cmath>
#include <string>

namespace bismarck::uda::catalog {

struct Model {
    std::string name;
    std::string task;
    Oid owner = InvalidOid;
    const StateHeader *state = nullptr;  // palloc'd in the context given to load()
};

// What a training run writes.
struct Record {
    std::string name, task, source;
    std::string columns_sql;  // a SQL text[] literal of the feature/label (or lmf) columns
    int64_t dimension = 0, rows = 0, skipped = 0;
    std::string options_json;
    int epochs = 0;
    double loss = 0, seconds = 0;
    const StateHeader *state = nullptr;
    bool replace = false;  // the caller asked to replace an existing model of that name
};

// Errors unless `name` is a valid model name (non-empty, at most 63 bytes, printable).
void check_name(const std::string &name);

// Whether a model exists; its owner in *owner.
bool exists(const std::string &name, Oid *owner);

// Before training `name`: an existing model is an error unless replace, and only its owner (or
// a member of the owner role) may replace it.
void check_can_write(const std::string &name, bool replace);

// Replaces (or inserts) the model and its log rows, in the caller's transaction.
void save(const Record &r);
void delete_log(const std::string &name);
void log_epoch(const std::string &name, int epoch, double loss, double step, double seconds,
               int64_t rows, const std::string &parallelism, int workers,
               double validation_loss = NAN);

// Loads a model the caller may use (owner, member of the owner, or granted), or errors.
Model load(const std::string &name, MemoryContext context);

// Makes every cached plan that holds a model by value (see planner.cpp) plan again: sent with
// the transaction's commit, as any catalog change.
void invalidate_plans();

// Drops a model (owner only); returns false if it does not exist.
bool drop(const std::string &name);
void grant(const std::string &name, Oid role, bool revoke);

}  // namespace bismarck::uda::catalog
