// Training on a Citus distributed table (see distributed.hpp).
#include "uda/distributed.hpp"
#include "uda/spi.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "commands/extension.h"
}

#include <algorithm>

namespace bismarck::uda::distributed {

Source describe(Oid relid) {
    Source s;
    bool citus = false;
    pg_call([&] { citus = OidIsValid(get_extension_oid("citus", true)); });
    if (!citus) return s;
    // partmethod 'h': hash-distributed (a reference table or a Citus local table is 'n').
    const uint64_t n = spi::exec(
        "SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey), "
        "(SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_shard d "
        "  WHERE d.logicalrelid = p.logicalrelid), "
        "(SELECT pg_catalog.count(DISTINCT l.groupid) FROM pg_catalog.pg_dist_shard d "
        "  JOIN pg_catalog.pg_dist_placement l ON l.shardid = d.shardid "
        "  WHERE d.logicalrelid = p.logicalrelid) "
        "FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1 AND p.partmethod = 'h'",
        {{OIDOID, ObjectIdGetDatum(relid)}}, true);
    if (n != 1) return s;
    s.column = spi::text_value(0, 1);
    s.shards = int(spi::int64_value(0, 2));
    s.nodes = int(spi::int64_value(0, 3));
    s.on = !s.column.empty() && s.shards > 0;
    return s;
}

std::string parallelism(const Source &source, const std::string &source_sql,
                        const std::string &requested) {
    if (requested == "shared_memory" || requested == "shared_memory_locked")
        fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "parallelism '" + requested + "' cannot train on distributed table " + source_sql,
             "Its rows are in " + std::to_string(source.shards) + " shards on " +
                 std::to_string(source.nodes) +
                 " nodes; shared memory reaches only the processes of one node.",
             "Use parallelism => 'model_averaging' (the default on a distributed table): each "
             "shard steps its own copy of the model and the coordinator averages them.");
    if (requested == "serial")
        pg_call([&] {
            ereport(NOTICE,
                    (errmsg("%s is a distributed table: training on its %d shards (%d nodes) "
                            "with model averaging",
                            source_sql.c_str(), source.shards, source.nodes),
                     errdetail("A serial pass would need every row on one node; each epoch "
                               "steps one copy of the model per shard where the shard is, and "
                               "the coordinator averages them (parallelism => "
                               "'model_averaging').")));
        });
    return "model_averaging";
}

void shuffled_copy(const Source &source, const std::string &name, const std::string &source_sql,
                   const std::string &projection, const std::string &not_null) {
    const std::string key = spi::ident(source.column);
    // The columns and their types, without reading a row.
    spi::exec("CREATE UNLOGGED TABLE " + name + " WITH (autovacuum_enabled = false) AS SELECT " +
              key + " AS bismarck_key, " + projection + " FROM " + source_sql + " WITH NO DATA");
    spi::exec("SELECT pg_catalog.create_distributed_table(" + spi::literal(name) +
              "::pg_catalog.regclass, 'bismarck_key', colocate_with => " +
              spi::literal(source_sql) + ")");
    // The ORDER BY is inside the subquery: Citus then sorts each shard's rows where they are and
    // inserts them into the co-located shard (an ORDER BY of the INSERT's own SELECT would pull
    // every row to the coordinator).
    spi::exec("INSERT INTO " + name + " SELECT * FROM (SELECT " + key + ", " + projection +
              " FROM " + source_sql + " WHERE " + not_null +
              " ORDER BY pg_catalog.random()) AS shuffled");
}

int64_t sample_blocks(const Scan &scan, int64_t rows) {
    spi::exec("SELECT pg_catalog.count(*) FROM " + scan.relation +
                  " WHERE ctid OPERATOR(pg_catalog.<) '(1,0)'::pg_catalog.tid",
              {}, true);
    const int64_t first = spi::int64_value(0, 1);
    if (first <= 0) return 1;
    return std::max<int64_t>(1, (rows + first - 1) / first);
}

std::string block_range(const Scan &scan, int64_t first, int64_t blocks, const char *alias) {
    const auto tid = [](int64_t block) {
        return "'(" + std::to_string(block) + ",0)'::pg_catalog.tid";
    };
    return "(SELECT " + scan.select + " FROM " + scan.relation + " WHERE (" + scan.where +
           ") AND ctid OPERATOR(pg_catalog.>=) " + tid(first) +
           " AND ctid OPERATOR(pg_catalog.<) " + tid(first + blocks) + ") AS " + alias;
}

}  // namespace bismarck::uda::distributed
