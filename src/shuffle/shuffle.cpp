// bismarck.shuffle(source, target, seed): a physically shuffled copy of a table.
//
// "Shuffle once" is the paper's finding: one random order, reused by every epoch, converges like
// a fresh shuffle per epoch at a fraction of the cost. The copy is CREATE TABLE AS ... ORDER BY
// random() after setseed(): PostgreSQL's sort spills to disk, so a table larger than memory
// shuffles in work_mem. The order is the same for the same seed because the scan that feeds
// random() is serial and starts at block 0 (parallel plans and synchronized scans are turned off
// for this statement only).
#include "uda/spi.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/varlena.h"
}

#include <random>
#include <string>

using namespace bismarck::uda;

BISMARCK_FUNCTION(bismarck_shuffle) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "source and target must not be NULL");
    const Oid relid = PG_GETARG_OID(0);
    int64_t seed;
    if (PG_ARGISNULL(2)) {
        std::random_device rd;
        seed = int64_t(rd());
    } else {
        seed = PG_GETARG_INT64(2);
    }
    // target may be schema-qualified; each part is quoted.
    std::string target;
    pg_call([&] {
        List *names = textToQualifiedNameList(PG_GETARG_TEXT_PP(1));
        ListCell *lc;
        foreach (lc, names) {
            if (!target.empty()) target += ".";
            target += quote_identifier(strVal(lfirst(lc)));
        }
    });
    AclResult acl = ACLCHECK_OK;
    pg_call([&] { acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT); });
    spi::connect();
    const std::string source = spi::relation(relid);
    if (acl != ACLCHECK_OK)
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for table " + source);
    spi::GucScope gucs;
    gucs.set("synchronize_seqscans", "off");
    gucs.set("max_parallel_workers_per_gather", "0");
    spi::set_random_seed(seed);
    const uint64_t n = spi::exec("CREATE TABLE " + target + " AS SELECT * FROM " + source +
                                 " ORDER BY pg_catalog.random()");
    spi::finish();
    gucs.close();
    PG_RETURN_INT64(int64_t(n));
}
