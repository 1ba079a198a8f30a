// bismarck.progress (see progress.hpp): the shared slots, their life, and the view's function.
//
// Where the slots live. The extension is loaded on demand, so it cannot reserve shared memory at
// server start (that needs shared_preload_libraries). The first backend that trains creates a
// dynamic shared memory segment, pins it (dsm_pin_segment: it outlives every backend, until the
// server stops or restarts) and publishes its handle, with a random token, in the file
// pg_stat_tmp/bismarck_progress. Every access to the file holds an exclusive flock on it, so two
// backends never both create a segment. A backend attaches once and keeps the mapping for its
// life (dsm_pin_mapping). After a restart (clean or after a crash) the segment is gone but the
// file is not: the handle no longer attaches, or attaches a segment of somebody else, whose
// header lacks our magic and token; either way the handle is stale and the next training replaces
// it. pg_stat_tmp is left out of base backups, so a standby never starts from a copied handle.
//
// One slot per backend, indexed by its BackendId (1..MaxBackends, fixed until a restart, and a
// restart makes a new segment): a slot is never contended for, and the array is never full.
// A parallel worker finds its leader's slot by ParallelLeaderBackendId, once per process.
//
// Consistency. The owner (the training backend) writes a slot's fields under the slot's spinlock
// and readers copy them under it, so a row is never torn. The row counter is apart: one relaxed
// 64-bit atomic on its own cache line, added to by the leader and its workers every kFlushRows
// rows without the lock, reset by the owner under the lock when an epoch or a phase starts (so a
// reader never pairs a new epoch with the last one's count).
//
// Release. The owner clears its slot at end(), at the end of its transaction whatever the outcome
// (commit, error, cancel), when a subtransaction containing begin() aborts, and at backend exit
// (before_shmem_exit: FATAL, pg_terminate_backend). A backend killed outright makes the postmaster
// restart the server, which destroys the segment. Readers also skip a slot whose pid is no longer
// a live backend.
#include "uda/progress.hpp"

#include "uda/boundary.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_authid_d.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/backendid.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

namespace bismarck::uda::progress {
namespace {

constexpr uint64_t kMagic = 0x31535247504B5342ull;  // "BSKPGRS1": also the layout's version
constexpr size_t kLine = 128;  // as shared_model.hpp: x86 fetches lines in pairs
const char *const kFile = PG_STAT_TMP_DIR "/bismarck_progress";

// What the owner publishes, under the slot's spinlock. Plain data: copied whole by readers.
struct Info {
    int32_t pid;  // 0: free
    Oid userid, dbid;
    int32_t epoch, epochs, workers;  // epoch 0: not in the epochs yet; workers -1: unknown
    int64_t rows_total;              // of the current phase or epoch; 0: not counted
    double loss;                     // after the last finished epoch; NaN: none yet
    TimestampTz started_at, phase_started_at, epochs_started_at;
    char model[64], task[32], parallelism[32], phase[32];
};

struct alignas(kLine) Slot {
    pg_atomic_uint64 rows_done;  // leader and workers, relaxed; alone on its line
    alignas(kLine) slock_t mutex;
    Info info;
};

struct alignas(kLine) Header {
    uint64_t magic;
    uint64_t token;  // also in the file: a handle is ours only if both match
    int32_t n_slots;
};

// The file's content.
struct Published {
    uint64_t magic;
    uint64_t token;
    uint32_t handle;
    int32_t n_slots;
};

size_t segment_bytes(int32_t n_slots) {
    return sizeof(Header) + sizeof(Slot) * size_t(n_slots);
}
Slot *slots(Header *h) {
    return reinterpret_cast<Slot *>(reinterpret_cast<char *>(h) + sizeof(Header));
}

// This process's view of it all.
Header *g_header = nullptr;  // the mapped segment, once found or created
Slot *g_own = nullptr;       // the slot of this backend's running training
Slot *g_rows = nullptr;      // where add_rows goes: g_own, or the leader's slot in a worker
bool g_worker_looked = false;
SubTransactionId g_subxact = InvalidSubTransactionId;  // where begin() was called
bool g_callbacks = false;

// The file, opened and locked; closing it releases the lock, whatever unwinds.
struct LockedFile {
    int fd = -1;
    ~LockedFile() {
        if (fd >= 0) close(fd);
    }
};

// The segment `p` names, if it still exists and is ours; detached otherwise.
Header *attach_published(const Published &p) {
    if (p.magic != kMagic || p.n_slots < MaxBackends) return nullptr;
    dsm_segment *seg = nullptr;
    pg_call([&] {
        seg = dsm_find_mapping(dsm_handle(p.handle));
        if (seg == nullptr) seg = dsm_attach(dsm_handle(p.handle));
    });
    if (seg == nullptr) return nullptr;  // gone: the server restarted since
    const size_t length = dsm_segment_map_length(seg);
    auto *h = static_cast<Header *>(dsm_segment_address(seg));
    if (length >= sizeof(Header) && h->magic == kMagic && h->token == p.token &&
        h->n_slots == p.n_slots && length >= segment_bytes(h->n_slots)) {
        pg_call([&] { dsm_pin_mapping(seg); });  // kept for the life of this process
        return h;
    }
    pg_call([&] { dsm_detach(seg); });  // the handle was reused by another segment
    return nullptr;
}

// The segment, mapped. `create`: make it if there is none (a training starts); otherwise
// (readers, workers) return null. Throws PgError or std::runtime_error.
Header *segment(bool create) {
    if (g_header) return g_header;
    LockedFile file;
    file.fd = open(kFile, O_RDWR | (create ? O_CREAT : 0) | O_CLOEXEC, 0600);
    if (file.fd < 0) {
        if (!create && errno == ENOENT) return nullptr;
        throw std::runtime_error(std::string("could not open ") + kFile + ": " + strerror(errno));
    }
    int rc;
    while ((rc = flock(file.fd, LOCK_EX)) < 0 && errno == EINTR) {
    }
    if (rc < 0)
        throw std::runtime_error(std::string("could not lock ") + kFile + ": " + strerror(errno));
    Published p{};
    if (pread(file.fd, &p, sizeof p, 0) == ssize_t(sizeof p)) g_header = attach_published(p);
    if (g_header || !create) return g_header;

    // None, or a stale handle: a new segment, pinned, then published.
    const int32_t n = MaxBackends;
    dsm_segment *seg = nullptr;
    pg_call([&] { seg = dsm_create(segment_bytes(n), DSM_CREATE_NULL_IF_MAXSEGMENTS); });
    if (seg == nullptr) throw std::runtime_error("no dynamic shared memory segment left");
    auto *h = static_cast<Header *>(dsm_segment_address(seg));
    memset(static_cast<void *>(h), 0, segment_bytes(n));
    std::random_device rd;
    h->token = (uint64_t(rd()) << 32) ^ rd();
    h->n_slots = n;
    for (int32_t i = 0; i < n; ++i) {
        SpinLockInit(&slots(h)[i].mutex);
        pg_atomic_init_u64(&slots(h)[i].rows_done, 0);
    }
    pg_memory_barrier();
    h->magic = kMagic;
    p = {kMagic, h->token, uint32_t(dsm_segment_handle(seg)), n};
    if (pwrite(file.fd, &p, sizeof p, 0) != ssize_t(sizeof p)) {
        const std::string why = strerror(errno);
        pg_call([&] { dsm_detach(seg); });
        throw std::runtime_error(std::string("could not write ") + kFile + ": " + why);
    }
    pg_call([&] {
        dsm_pin_segment(seg);
        dsm_pin_mapping(seg);
    });
    g_header = h;
    return h;
}

void release() noexcept {
    if (g_own) {
        SpinLockAcquire(&g_own->mutex);
        g_own->info.pid = 0;
        SpinLockRelease(&g_own->mutex);
    }
    g_own = nullptr;
    g_rows = nullptr;
    g_subxact = InvalidSubTransactionId;
}

void on_xact(XactEvent event, void *) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
        release();
}

// A subtransaction aborting: every subtransaction still open with an id at least `subid` is it
// or one of its children, so a training begun there is over.
void on_subxact(SubXactEvent event, SubTransactionId subid, SubTransactionId, void *) {
    if (event == SUBXACT_EVENT_ABORT_SUB && g_own && g_subxact >= subid) release();
}

void on_backend_exit(int, Datum) {
    release();
}

template <size_t N>
void copy_text(char (&to)[N], const std::string &from) {
    strlcpy(to, from.c_str(), N);
}

// Runs `f` on this backend's slot under its lock. Nothing in `f` may raise.
template <class F>
void update(F &&f) {
    if (!g_own) return;
    SpinLockAcquire(&g_own->mutex);
    f(g_own->info);
    SpinLockRelease(&g_own->mutex);
}

// Progress must never break a training: an error is logged and the training goes unseen.
void unavailable(const char *what) noexcept {
    try {
        pg_call([&] { ereport(LOG, (errmsg("bismarck.progress is unavailable: %s", what))); });
    } catch (...) {
    }
}

}  // namespace

void begin(const std::string &model, const std::string &task, const std::string &parallelism,
           int workers, int epochs) {
    release();
    detail::pending = 0;
    try {
        Header *h = segment(true);
        if (MyBackendId < 1 || MyBackendId > h->n_slots) return;
        if (!g_callbacks) {
            pg_call([] {
                RegisterXactCallback(on_xact, nullptr);
                RegisterSubXactCallback(on_subxact, nullptr);
                before_shmem_exit(on_backend_exit, 0);
            });
            g_callbacks = true;
        }
        Info info{};
        info.pid = MyProcPid;
        info.userid = GetUserId();
        info.dbid = MyDatabaseId;
        info.epochs = epochs;
        info.workers = workers;
        info.loss = NAN;
        info.started_at = info.phase_started_at = GetCurrentTimestamp();
        copy_text(info.model, model);
        copy_text(info.task, task);
        copy_text(info.parallelism, parallelism);
        copy_text(info.phase, "starting");
        Slot *s = &slots(h)[MyBackendId - 1];
        pg_atomic_write_u64(&s->rows_done, 0);
        SpinLockAcquire(&s->mutex);
        s->info = info;
        SpinLockRelease(&s->mutex);
        g_own = g_rows = s;
        g_subxact = GetCurrentSubTransactionId();
    } catch (const std::exception &e) {
        unavailable(e.what());
    } catch (...) {
        unavailable("unknown error");
    }
}

void set_workers(int workers) {
    update([&](Info &i) { i.workers = workers; });
}

void set_plan(const std::string &task, int epochs) {
    update([&](Info &i) {
        strlcpy(i.task, task.c_str(), sizeof i.task);
        i.epochs = epochs;
    });
}

void phase(const char *name, int64_t rows_total) {
    if (!g_own) return;
    const TimestampTz now = GetCurrentTimestamp();
    detail::pending = 0;
    update([&](Info &i) {
        pg_atomic_write_u64(&g_own->rows_done, 0);
        strlcpy(i.phase, name, sizeof i.phase);
        i.rows_total = rows_total;
        i.phase_started_at = now;
    });
}

void epoch(int epoch, int64_t rows_total, double last_loss) {
    if (!g_own) return;
    const TimestampTz now = GetCurrentTimestamp();
    detail::pending = 0;
    update([&](Info &i) {
        pg_atomic_write_u64(&g_own->rows_done, 0);
        if (strcmp(i.phase, "epochs") != 0) {
            strlcpy(i.phase, "epochs", sizeof i.phase);
            i.epochs_started_at = now;
        }
        i.epoch = epoch;
        i.rows_total = rows_total;
        i.loss = last_loss;
        i.phase_started_at = now;
    });
}

void end() {
    release();
}

void detail::flush() noexcept {
    const int64_t n = pending;
    pending = 0;
    if (g_rows == nullptr && !g_worker_looked && IsParallelWorker()) {
        // A parallel worker: its leader's slot, if the leader is training (looked up once; a
        // worker lives for one query).
        g_worker_looked = true;
        try {
            Header *h = segment(false);
            const PGPROC *leader = MyProc ? MyProc->lockGroupLeader : nullptr;
            const BackendId id = ParallelLeaderBackendId;
            if (h && leader && id >= 1 && id <= h->n_slots) {
                Slot *s = &slots(h)[id - 1];
                SpinLockAcquire(&s->mutex);
                const bool ours = s->info.pid == leader->pid && s->info.pid != 0;
                SpinLockRelease(&s->mutex);
                if (ours) g_rows = s;
            }
        } catch (...) {
        }
    }
    if (g_rows) pg_atomic_fetch_add_u64(&g_rows->rows_done, uint64_t(n));
}

}  // namespace bismarck::uda::progress

namespace {

using namespace bismarck::uda::progress;

// The phase's remaining time from its progress so far; the epochs as one phase, by epochs
// finished plus the fraction of the current one. Null when nothing is done yet to go by.
bool remaining(const Info &i, int64_t rows_done, TimestampTz now, double *out) {
    const bool epochs = strcmp(i.phase, "epochs") == 0;
    const double fraction_rows =
        i.rows_total > 0 ? std::min(1.0, double(rows_done) / double(i.rows_total)) : 0.0;
    double done, total, since;
    if (epochs) {
        done = (i.epoch - 1) + fraction_rows;
        total = i.epochs;
        since = double(now - i.epochs_started_at) / USECS_PER_SEC;
    } else {
        if (i.rows_total <= 0) return false;
        done = fraction_rows;
        total = 1.0;
        since = double(now - i.phase_started_at) / USECS_PER_SEC;
    }
    if (done <= 0.0) return false;
    *out = std::max(0.0, since * (total - done) / done);
    return true;
}

}  // namespace

// progress_rows(): one row per training running now (the view bismarck.progress). Like
// pg_stat_activity, a role sees the details of its own trainings (those of roles it has the
// privileges of) and, with pg_read_all_stats, of everybody's; of others only pid, database and
// user.
BISMARCK_FUNCTION(bismarck_progress_rows) {
    constexpr int kColumns = 16;
    bismarck::uda::pg_call([&] { InitMaterializedSRF(fcinfo, 0); });
    auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
    Header *h = segment(false);
    if (h == nullptr) return Datum(0);
    bool all = false;
    TimestampTz now = 0;
    bismarck::uda::pg_call([&] {
        all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
        now = GetCurrentTimestamp();
    });
    for (int32_t k = 0; k < h->n_slots; ++k) {
        Slot *s = &slots(h)[k];
        SpinLockAcquire(&s->mutex);
        const Info i = s->info;
        // read with the fields: the owner resets it under the lock when an epoch or phase starts
        const int64_t rows = int64_t(pg_atomic_read_u64(&s->rows_done));
        SpinLockRelease(&s->mutex);
        if (i.pid == 0) continue;
        double left = 0.0;
        const bool has_left = remaining(i, rows, now, &left);
        bismarck::uda::pg_call([&] {
            if (BackendPidGetProc(i.pid) == nullptr) return;  // exited without releasing it
            Datum v[kColumns];
            bool null[kColumns];
            for (int c = 0; c < kColumns; ++c) null[c] = true;
            auto set = [&](int c, Datum d) {
                v[c] = d;
                null[c] = false;
            };
            set(0, Int32GetDatum(i.pid));
            if (const char *db = get_database_name(i.dbid)) set(1, CStringGetDatum(db));
            if (const char *user = GetUserNameFromId(i.userid, true)) {
                NameData *name = static_cast<NameData *>(palloc0(NAMEDATALEN));
                namestrcpy(name, user);
                set(2, NameGetDatum(name));
            }
            if (null[1] == false) {
                NameData *name = static_cast<NameData *>(palloc0(NAMEDATALEN));
                namestrcpy(name, DatumGetCString(v[1]));
                v[1] = NameGetDatum(name);
            }
            if (all || has_privs_of_role(GetUserId(), i.userid)) {
                set(3, CStringGetTextDatum(i.model));
                set(4, CStringGetTextDatum(i.task));
                set(5, CStringGetTextDatum(i.phase));
                if (i.epoch > 0) set(6, Int32GetDatum(i.epoch));
                set(7, Int32GetDatum(i.epochs));
                set(8, Int64GetDatum(rows));
                if (i.rows_total > 0) set(9, Int64GetDatum(i.rows_total));
                if (std::isfinite(i.loss)) set(10, Float8GetDatum(i.loss));
                set(11, Float8GetDatum(double(now - i.started_at) / USECS_PER_SEC));
                if (has_left) set(12, Float8GetDatum(left));
                set(13, CStringGetTextDatum(i.parallelism));
                if (i.workers >= 0) set(14, Int32GetDatum(i.workers));
                set(15, TimestampTzGetDatum(i.started_at));
            }
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, null);
        });
    }
    return Datum(0);
}
