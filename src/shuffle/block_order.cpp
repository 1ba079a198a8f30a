// bismarck.block_shuffle: a TABLESAMPLE method that returns EVERY row of a table exactly once,
// visiting its pages in a seeded random order. With a row buffer in the aggregate
// (shuffle/row_buffer.hpp) this is CorgiPile's shuffle (Xu et al., SIGMOD 2022) with no copy:
//
//   SELECT bismarck.logistic_epoch(x, y, state)
//   FROM t TABLESAMPLE bismarck.block_shuffle(seed, pages_per_run);
//
// Order. The table's pages are cut into runs of `pages_per_run` consecutive pages (the last run
// may be shorter); the runs are visited in a uniformly random order (Fisher-Yates over the run
// numbers, igd::SplitMix64 seeded from `seed`), the pages of a run in ascending order (so reads
// stay sequential within a run), the rows of a page in line-pointer order. pages_per_run = 0
// means the default (kDefaultRunPages). The permutation costs 4 bytes per run, allocated once
// per query; runs are lengthened so that there are at most kMaxRuns of them (64 MB).
//
// Why a full permutation and not tsm_system_rows' random start + stride coprime to the page
// count: a stride gives only about n * phi(n) of the n! orders, and always the same structured
// one (page p is visited at time (p - start) / stride mod n: pages equally spaced in the table
// come equally spaced in time; with a small stride neighbours follow each other, so a
// label-sorted table stays nearly sorted). CorgiPile's analysis assumes a uniformly random block
// order each epoch. The permutation's memory is small (a 1 GB table has 131,072 pages: 512 kB).
//
// Repeatability. The order is a function of (seed, REPEATABLE value if any, number of pages at
// the first scan, pages_per_run): the same seed gives the same rows in the same order as long
// as the table is physically unchanged (no UPDATE, DELETE + VACUUM, new rows, VACUUM FULL or
// CLUSTER), which is also what shuffle-once's copy guarantees. A rescan within a query repeats
// the first scan's order (blocks added since are not visited: they hold nothing the query's
// snapshot can see). Without a REPEATABLE clause the executor's random seed is ignored: the
// seed argument alone decides. synchronize_seqscans has no effect: the executor disables
// synchronised scans for any TABLESAMPLE method that chooses its own blocks
// (NextSampleBlock != NULL). Visibility is the executor's business: NextSampleTuple proposes
// every line pointer of the page and the heap AM skips unused/dead ones and checks each against
// the snapshot (page-at-a-time mode, as tsm_system_rows forces).
//
// Buffers. A scan of a table larger than a quarter of shared_buffers normally reads it through
// a small ring of buffers (BAS_BULKREAD), so that a one-off scan does not evict the rest of the
// cache: every page is then copied in from the kernel's page cache again, one system call per
// page. An epoch is not one-off, since the next epoch reads the same pages. A table that takes at
// most half of shared_buffers is therefore read into shared buffers as usual, and from the second
// epoch on its pages are found there. Pages in shared buffers lie at unrelated addresses, and the
// hardware prefetcher cannot guess a random next one. Without help, every page would begin with
// the rows waiting on memory, and a block-ordered epoch over cached pages would be slower than
// one through the ring. So the next page of the order is prefetched while the current one is
// worked on (prefetch_next_page). Measured on 581,012 x 54 rows (284 MB) with the table in
// shared buffers, 5 interleaved rounds: 212 ms per logistic epoch without the prefetch, 149-161
// ms with it; through the ring, about 230 ms.
//
// Parallel query: PostgreSQL 15 has no partial (parallel-aware) path for sample scans, so a
// TABLESAMPLE scan is never split between workers; the handler is PARALLEL SAFE so that such a
// scan may still run inside a parallel-safe plan, whole, in one process.
//
// The executor calls the callbacks below directly (they are not fmgr functions); they hold no
// C++ object with a destructor, so a PostgreSQL error raised inside them unwinds nothing of ours.
extern "C" {
#include "postgres.h"

#include "access/tsmapi.h"
#include "catalog/pg_type.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "optimizer/optimizer.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

#include "shuffle/permute.hpp"
#include "uda/boundary.hpp"

namespace {

// 1 page: the order that keeps SGD as accurate as shuffle-once on label-sorted data with any
// buffer (bench/order_quality.cpp). Longer runs read sequentially on a cold cache but put
// run_pages x ~18 rows of one label side by side: a run of R pages needs a buffer of about 64 R
// pages to be as accurate (R = 16 with 100 pages of buffer was clearly worse).
constexpr uint32 kDefaultRunPages = 1;
constexpr uint32 kMaxRunPages = 1u << 20;
constexpr uint64 kMaxRuns = uint64(1) << 24;

struct BlockShuffleState {
    uint64 seed;       // mixed from the seed argument and REPEATABLE
    uint32 run_pages;  // pages per run, as asked (0: default)
    // Fixed by the first scan of the query, kept for rescans:
    bool planned;
    BlockNumber nblocks;  // pages when the order was drawn
    uint32 run_len;       // pages per run actually used
    uint32 nruns;
    uint32 *order;  // run numbers, in visiting order
    // Position in the current scan:
    uint32 run_index;       // index into order of the current run
    uint32 page_in_run;     // next page of the current run to visit
    OffsetNumber last_off;  // last offset returned on the current page
};

void block_shuffle_size(PlannerInfo *root, RelOptInfo *baserel, List *paramexprs,
                        BlockNumber *pages, double *tuples) {
    // Every page and every row.
    *pages = baserel->pages;
    *tuples = baserel->tuples;
}

void block_shuffle_init(SampleScanState *node, int eflags) {
    node->tsm_state = palloc0(sizeof(BlockShuffleState));
}

void block_shuffle_begin(SampleScanState *node, Datum *params, int nparams, uint32 seed) {
    auto *s = static_cast<BlockShuffleState *>(node->tsm_state);
    const int64 user_seed = DatumGetInt64(params[0]);
    const int32 run_pages = DatumGetInt32(params[1]);
    if (run_pages < 0 || uint32(run_pages) > kMaxRunPages)
        ereport(ERROR, (errcode(ERRCODE_INVALID_TABLESAMPLE_ARGUMENT),
                        errmsg("pages_per_run must be between 0 (the default, %u) and %u",
                               kDefaultRunPages, kMaxRunPages)));
    // The REPEATABLE value, when given, is mixed in; otherwise the executor's seed is random and
    // is ignored, so that the seed argument alone decides the order.
    const uint64 mixed = uint64(user_seed) ^ (node->repeatable ? (uint64(seed) << 32 | 1) : 0);
    if (s->planned && (mixed != s->seed || uint32(run_pages) != s->run_pages)) {
        // A rescan with other arguments (a correlated parameter): draw the order again.
        if (s->order) pfree(s->order);
        s->order = nullptr;
        s->planned = false;
    }
    s->seed = mixed;
    s->run_pages = uint32(run_pages);
    s->run_index = 0;
    s->page_in_run = 0;
    s->last_off = InvalidOffsetNumber;
    node->use_pagemode = true;  // visibility of a whole page at once (NextSampleTuple relies on it)
    // See "Buffers" at the top: a table of at most half of shared_buffers stays in them.
    node->use_bulkread =
        RelationGetNumberOfBlocks(node->ss.ss_currentRelation) > BlockNumber(NBuffers / 2);
}

void draw_order(BlockShuffleState *s, BlockNumber nblocks, MemoryContext where) {
    uint64 run_len = s->run_pages ? s->run_pages : kDefaultRunPages;
    while ((uint64(nblocks) + run_len - 1) / run_len > kMaxRuns) run_len *= 2;
    s->nblocks = nblocks;
    s->run_len = uint32(run_len);
    s->nruns = uint32((uint64(nblocks) + run_len - 1) / run_len);
    s->order = static_cast<uint32 *>(
        MemoryContextAllocHuge(where, sizeof(uint32) * Max(s->nruns, uint32(1))));
    for (uint32 r = 0; r < s->nruns; ++r) s->order[r] = r;
    bismarck::igd::SplitMix64 rng = bismarck::shuffle::seeded(s->seed);
    bismarck::shuffle::fisher_yates(s->order, s->nruns, rng);
    s->planned = true;
}

// The page at the order's current position: page `page_in_run` of run `order[run_index]` (the
// caller checks run_index < nruns; the page may lie past the relation's end).
uint64 current_page(const BlockShuffleState *s) {
    return uint64(s->order[s->run_index]) * s->run_len + s->page_in_run;
}

// While the executor works on a page, the next page of the order is asked from memory (see
// "Buffers" at the top), if it is in shared buffers. A prefetch needs no pin: if the buffer is
// reused meanwhile, it loads lines nobody reads. A page that is not in shared buffers gets
// PostgreSQL's own prefetch (posix_fadvise), which starts reading it from disk. A scan through a
// ring is left alone: its pages are mostly not in shared buffers, and asking for each would cost
// a system call per page.
void prefetch_next_page(SampleScanState *node, const BlockShuffleState *s, BlockNumber nblocks) {
    if (node->use_bulkread && nblocks > BlockNumber(NBuffers / 4)) return;
    if (s->run_index >= s->nruns) return;
    const uint64 next = current_page(s);
    if (next >= s->nblocks || next >= nblocks) return;
    const PrefetchBufferResult r =
        PrefetchBuffer(node->ss.ss_currentRelation, MAIN_FORKNUM, BlockNumber(next));
    if (!BufferIsValid(r.recent_buffer) || BufferIsLocal(r.recent_buffer)) return;
    const char *page = static_cast<const char *>(BufferGetBlock(r.recent_buffer));
    for (int off = 0; off < BLCKSZ; off += 64) __builtin_prefetch(page + off);
}

BlockNumber block_shuffle_next_block(SampleScanState *node, BlockNumber nblocks) {
    auto *s = static_cast<BlockShuffleState *>(node->tsm_state);
    if (!s->planned) {
        if (nblocks == 0) return InvalidBlockNumber;
        draw_order(s, nblocks, GetMemoryChunkContext(s));
    }
    for (;;) {
        if (s->run_index >= s->nruns) return InvalidBlockNumber;
        const uint64 page = current_page(s);
        if (++s->page_in_run >= s->run_len || page + 1 >= s->nblocks) {
            ++s->run_index;
            s->page_in_run = 0;
        }
        // A page past the end of the relation (it cannot shrink within a query while we hold
        // our lock, but tsm_system_rows guards against it too) is skipped.
        if (page < s->nblocks && page < nblocks) {
            s->last_off = InvalidOffsetNumber;
            prefetch_next_page(node, s, nblocks);
            return BlockNumber(page);
        }
    }
}

OffsetNumber block_shuffle_next_tuple(SampleScanState *node, BlockNumber blockno,
                                      OffsetNumber maxoffset) {
    auto *s = static_cast<BlockShuffleState *>(node->tsm_state);
    const OffsetNumber next =
        s->last_off == InvalidOffsetNumber ? FirstOffsetNumber : OffsetNumber(s->last_off + 1);
    if (next > maxoffset) {
        s->last_off = InvalidOffsetNumber;
        return InvalidOffsetNumber;
    }
    s->last_off = next;
    return next;
}

void block_shuffle_end(SampleScanState *node) {}

}  // namespace

using namespace bismarck::uda;

// The handler: bismarck.block_shuffle(internal) RETURNS tsm_handler.
BISMARCK_FUNCTION(bismarck_block_shuffle_handler) {
    TsmRoutine *tsm = nullptr;
    pg_call([&] {
        tsm = makeNode(TsmRoutine);
        tsm->parameterTypes = list_make2_oid(INT8OID, INT4OID);
    });
    tsm->repeatable_across_queries = true;
    tsm->repeatable_across_scans = true;
    tsm->SampleScanGetSampleSize = block_shuffle_size;
    tsm->InitSampleScan = block_shuffle_init;
    tsm->BeginSampleScan = block_shuffle_begin;
    tsm->NextSampleBlock = block_shuffle_next_block;
    tsm->NextSampleTuple = block_shuffle_next_tuple;
    tsm->EndSampleScan = block_shuffle_end;
    PG_RETURN_POINTER(tsm);
}
