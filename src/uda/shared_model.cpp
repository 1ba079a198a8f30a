// Creating and attaching the shared-memory model segment (see shared_model.hpp).
#include "uda/shared_model.hpp"

extern "C" {
#include "storage/shmem.h"
#include "utils/resowner.h"
}

#include <random>

namespace bismarck::uda {

static constexpr uint64_t kSegmentMagic = 0x4253484D4F44454Cull;  // "BSHMODEL"

// This process's current mapping: a parallel worker runs one epoch and attaches once; the
// leader finds the driver's own mapping. The callback forgets it when the segment goes away.
static dsm_segment *g_segment = nullptr;
static uint64_t g_handle = 0;
// The last (token, n_params) found to match g_segment's header, and the checked address.
static SharedSegment *g_checked = nullptr;
static uint64_t g_token = 0;
static int64_t g_n_params = 0;

// The handle of the last segment this process created, for the tests only (testing.cpp).
static uint64_t g_last_created = 0;

uint64_t shared_last_created() {
    return g_last_created;
}

static void forget_segment(dsm_segment *, Datum) {
    g_segment = nullptr;
    g_handle = 0;
    g_checked = nullptr;
}

SharedSegment *shared_create(int64_t n_params, dsm_segment **seg, uint64_t *handle,
                             uint64_t *token) {
    dsm_segment *s = nullptr;
    pg_call([&] { s = dsm_create(segment_bytes(n_params), 0); });
    // A segment is mapped at a page boundary, so the lines of the layout are real cache lines.
    auto *h = static_cast<SharedSegment *>(dsm_segment_address(s));
    Assert(reinterpret_cast<uintptr_t>(h) % kLine == 0);
    memset(static_cast<void *>(h), 0, segment_bytes(n_params));
    h->magic = kSegmentMagic;
    std::random_device rd;
    h->token = (uint64_t(rd()) << 32) ^ rd();
    h->n_params = n_params;
    SpinLockInit(&h->lock);
    *seg = s;
    *handle = dsm_segment_handle(s);
    g_last_created = *handle;
    *token = h->token;
    return h;
}

SharedSegment *shared_attach(uint64_t handle, uint64_t token, int64_t n_params) {
    if (g_checked != nullptr && g_handle == handle && g_token == token && g_n_params == n_params)
        return g_checked;
    if (g_segment == nullptr || g_handle != handle) {
        dsm_segment *s = dsm_find_mapping(dsm_handle(handle));
        if (s == nullptr) {
            pg_call([&] { s = dsm_attach(dsm_handle(handle)); });
            if (s == nullptr)
                fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                     "the shared-memory model of this state no longer exists",
                     "A state with parallelism 'shared_memory' is only valid during the training "
                     "run that created it.");
            // The mapping lives as long as this process (a parallel worker exits after the
            // query); the creator's own mapping is found above and never pinned here.
            pg_call([&] { dsm_pin_mapping(s); });
        }
        g_segment = s;
        g_handle = handle;
        on_dsm_detach(s, forget_segment, 0);
    }
    g_checked = nullptr;
    auto *h = static_cast<SharedSegment *>(dsm_segment_address(g_segment));
    if (dsm_segment_map_length(g_segment) < sizeof(SharedSegment) || h->magic != kSegmentMagic ||
        h->token != token || h->n_params != n_params ||
        dsm_segment_map_length(g_segment) < segment_bytes(n_params))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "the state does not match its shared-memory model");
    g_checked = h;
    g_token = token;
    g_n_params = n_params;
    return h;
}

}  // namespace bismarck::uda
