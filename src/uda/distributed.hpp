// Training where the data is: the driver's steps on a Citus distributed table.
//
// On a hash-distributed source every scan of a training run is a query Citus runs on the
// shards, combined on the coordinator; no row is pulled to the coordinator:
//   statistics  plain aggregates (count, feature_stats, avg, ...) and the classes' GROUP BY
//   shuffle     a distributed copy co-located with the source, filled by an INSERT ... SELECT
//               whose subquery sorts each shard's rows by random(): Citus runs it as a
//               repartitioned insert, every shard's rows going to the co-located shard of the
//               copy on the same node, in that order
//   step size   the sample is the first blocks of every shard of the (shuffled) copy and the
//               held-out rows the next ones: a TID range scan on each shard, no LIMIT
//   epochs      model averaging: Citus runs the epoch aggregate as worker_partial_agg on each
//               shard and coord_combine_agg (bismarck.epoch_combine) on the coordinator; the
//               model state is bound as a parameter of a one-shot plan (a generic plan with $1
//               cannot be distributed), so Citus writes it into each shard query as a constant
// The copy is a distributed table made in the caller's transaction: an error or a cancel rolls
// its shards back on every node, and the run drops it at the end.
//
// Nothing here requires Citus: describe() reads Citus's catalog only when the citus extension
// exists in the database.
#pragma once

#include "uda/boundary.hpp"

#include <cstdint>
#include <string>

namespace bismarck::uda::distributed {

// Where a training source's rows are.
struct Source {
    bool on = false;     // a Citus hash-distributed table
    std::string column;  // its distribution column (the name, unquoted)
    int shards = 0;      // how many shards, and on how many nodes
    int nodes = 0;
};

// What `relid` is. {on = false} when the citus extension does not exist or Citus does not
// hash-distribute the table (reference tables, Citus local tables and append-distributed ones
// are trained on like local tables).
Source describe(Oid relid);

// The parallelism a run on a distributed source uses: 'model_averaging', the one mode that
// runs across nodes. The default ('serial') becomes it, with a NOTICE; the shared-memory modes
// are refused (one model in one node's memory cannot be shared by processes on other nodes).
std::string parallelism(const Source &source, const std::string &source_sql,
                        const std::string &requested);

// Creates `name` (schema-qualified, quoted) as a distributed table co-located with the source,
// holding `projection` (SQL expressions with AS names) of the rows that satisfy `not_null`, in
// a random order within each shard. The copy also keeps the source's distribution column (as
// bismarck_key), which co-location needs.
void shuffled_copy(const Source &source, const std::string &name, const std::string &source_sql,
                   const std::string &projection, const std::string &not_null);

// A scan of a training run: SELECT <select> FROM <relation> WHERE <where>.
struct Scan {
    std::string relation, select, where;
};

// How many blocks of every shard hold about `rows` rows in total (at least 1), from the rows in
// the first block of each shard (a one-block read of every shard).
int64_t sample_blocks(const Scan &scan, int64_t rows);

// The rows of blocks [first, first + blocks) of every shard, as a FROM item named `alias`.
std::string block_range(const Scan &scan, int64_t first, int64_t blocks, const char *alias);

}  // namespace bismarck::uda::distributed
