// The model catalog (see catalog.hpp).
#include "uda/catalog.hpp"

#include "uda/spi.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace bismarck::uda::catalog {
namespace {

Oid store_owner() {
    Oid owner = InvalidOid;
    pg_call([&] {
        Oid nsp = get_namespace_oid("bismarck", false);
        Oid rel = get_relname_relid("model_store", nsp);
        if (!OidIsValid(rel)) elog(ERROR, "bismarck.model_store is missing");
        HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
        if (!HeapTupleIsValid(tup)) elog(ERROR, "cache lookup failed for relation %u", rel);
        owner = ((Form_pg_class)GETSTRUCT(tup))->relowner;
        ReleaseSysCache(tup);
    });
    return owner;
}

// Runs f as the stores' owner with search_path pinned to pg_catalog (so no object of the
// caller's can be picked up by name while the privileges are raised).
template <class F>
void as_store_owner(F &&f) {
    Oid save_user;
    int save_sec;
    GetUserIdAndSecContext(&save_user, &save_sec);
    const Oid owner = store_owner();
    spi::GucScope gucs;
    gucs.set("search_path", "pg_catalog, pg_temp");
    SetUserIdAndSecContext(owner,
                           save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    try {
        f();
    } catch (...) {
        SetUserIdAndSecContext(save_user, save_sec);
        throw;  // the transaction's abort undoes the search_path
    }
    SetUserIdAndSecContext(save_user, save_sec);
    gucs.close();
}

spi::Arg text_arg(const std::string &s) {
    text *t = nullptr;
    pg_call([&] { t = cstring_to_text_with_len(s.data(), int(s.size())); });
    return {TEXTOID, PointerGetDatum(t)};
}

bool may_use_as(Oid owner, Oid caller = GetUserId()) {
    bool ok = false;
    pg_call([&] { ok = has_privs_of_role(caller, owner); });
    return ok;
}

// A role that owns models holds a privilege on bismarck.model_owners, so that DROP ROLE refuses
// to drop it ("privileges for table bismarck.model_owners") instead of leaving models owned by a
// role that no longer exists; the privilege goes with the role's last model. (The stores' owner
// needs none: it owns the table.) Runs as the stores' owner, inside as_store_owner.
void sync_owner_marker(Oid role) {
    if (role == store_owner()) return;
    const uint64_t n = spi::exec("SELECT 1 FROM bismarck.model_store WHERE owner = $1 LIMIT 1",
                                 {{OIDOID, ObjectIdGetDatum(role)}}, false);
    char *name = nullptr;
    pg_call([&] { name = GetUserNameFromId(role, true); });
    if (name == nullptr) return;
    spi::exec(std::string(n > 0 ? "GRANT SELECT ON bismarck.model_owners TO "
                                : "REVOKE SELECT ON bismarck.model_owners FROM ") +
              spi::ident(name));
}

// Whether this node is a Citus worker (the citus extension exists and this is not the
// coordinator). Asked only on the way to an error.
bool on_citus_worker() {
    bool citus = false;
    pg_call([&] { citus = OidIsValid(get_extension_oid("citus", true)); });
    if (!citus) return false;
    spi::connect();
    spi::exec("SELECT NOT pg_catalog.citus_is_coordinator()", {}, true);
    bool isnull = true;
    const bool worker = SPI_processed == 1 && DatumGetBool(spi::value(0, 1, &isnull)) && !isnull;
    spi::finish();
    return worker;
}

}  // namespace

void check_name(const std::string &name) {
    if (name.empty()) fail(ERRCODE_INVALID_PARAMETER_VALUE, "model name must not be empty");
    if (name.size() > 63)
        fail(ERRCODE_NAME_TOO_LONG, "model name is " + std::to_string(name.size()) + " bytes long",
             "A model name may have at most 63 bytes.");
    for (unsigned char c : name)
        if (c < 32 || c == 127)
            fail(ERRCODE_INVALID_PARAMETER_VALUE, "model name contains a control character");
}

void invalidate_plans() {
    pg_call([] {
        const Oid rel = get_relname_relid("model_store", get_namespace_oid("bismarck", false));
        if (OidIsValid(rel)) CacheInvalidateRelcacheByRelid(rel);
    });
}

bool exists(const std::string &name, Oid *owner) {
    bool found = false;
    as_store_owner([&] {
        spi::connect();
        // not read-only: a fresh snapshot sees what this transaction wrote a moment ago. The row
        // is locked until the end of the transaction, so the owner checked by the caller is still
        // the owner when it writes (no other session can replace or drop the model meanwhile).
        const uint64_t n =
            spi::exec("SELECT owner FROM bismarck.model_store WHERE name = $1 FOR UPDATE",
                      {text_arg(name)}, false);
        if (n > 0) {
            found = true;
            bool isnull;
            *owner = DatumGetObjectId(spi::value(0, 1, &isnull));
        }
        spi::finish();
    });
    return found;
}

void check_can_write(const std::string &name, bool replace) {
    check_name(name);
    Oid owner = InvalidOid;
    if (!exists(name, &owner)) return;
    if (!replace)
        fail(ERRCODE_DUPLICATE_OBJECT, "model \"" + name + "\" already exists", {},
             "Use replace => true to retrain it, or bismarck.drop_model() first.");
    if (!may_use_as(owner))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to replace model \"" + name + "\"",
             "Only its owner (or a member of the owner role) may replace a model.");
}

void delete_log(const std::string &name) {
    as_store_owner([&] {
        spi::connect();
        spi::exec("DELETE FROM bismarck.log_store WHERE model = $1", {text_arg(name)});
        spi::finish();
    });
}

void log_epoch(const std::string &name, int epoch, double loss, double step, double seconds,
               int64_t rows, const std::string &parallelism, int workers, double validation_loss) {
    const Oid caller = GetUserId();
    as_store_owner([&] {
        spi::connect();
        spi::exec(
            "INSERT INTO bismarck.log_store (model, epoch, loss, step_size, seconds, rows_seen, "
            "parallelism, workers, owner, validation_loss) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            "$9, $10)",
            {text_arg(name),
             {INT4OID, Int32GetDatum(epoch)},
             {FLOAT8OID, Float8GetDatum(loss), !std::isfinite(loss)},
             {FLOAT8OID, Float8GetDatum(step)},
             {FLOAT8OID, Float8GetDatum(seconds)},
             {INT8OID, Int64GetDatum(rows)},
             text_arg(parallelism),
             {INT4OID, Int32GetDatum(workers)},
             {OIDOID, ObjectIdGetDatum(caller)},
             {FLOAT8OID, Float8GetDatum(validation_loss), !std::isfinite(validation_loss)}});
        spi::finish();
    });
}

void save(const Record &r) {
    const Oid caller = GetUserId();
    // A model of that name may have been committed by another session since the training run
    // checked (check_can_write): look again, with the row locked, and never replace a model the
    // caller may not replace.
    Oid other_owner = InvalidOid, replaced_owner = InvalidOid;
    bool taken = false;
    as_store_owner([&] {
        spi::connect();
        const uint64_t n =
            spi::exec("SELECT owner FROM bismarck.model_store WHERE name = $1 FOR UPDATE",
                      {text_arg(r.name)}, false);
        if (n > 0) {
            bool isnull;
            const Oid owner = DatumGetObjectId(spi::value(0, 1, &isnull));
            replaced_owner = owner;
            if (!may_use_as(owner, caller)) other_owner = owner;
            taken = !r.replace;
        }
        spi::finish();
    });
    if (OidIsValid(other_owner))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
             "permission denied to replace model \"" + r.name + "\"",
             "Another role created a model of that name while this one was training.");
    if (taken)
        fail(ERRCODE_DUPLICATE_OBJECT, "model \"" + r.name + "\" already exists",
             "Another session created a model of that name while this one was training.",
             "Use replace => true to replace it.");
    as_store_owner([&] {
        spi::connect();
        spi::exec("DELETE FROM bismarck.model_store WHERE name = $1", {text_arg(r.name)});
        Oid state_type = InvalidOid;
        pg_call([&] {
            state_type = TypenameGetTypid("model_state");
            if (!OidIsValid(state_type))
                state_type =
                    GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("model_state"),
                                    ObjectIdGetDatum(get_namespace_oid("bismarck", false)));
        });
        spi::exec(
            "INSERT INTO bismarck.model_store (name, task, source, columns, dimension, rows_used, "
            "rows_skipped, options, epochs, loss, seconds, owner, state) VALUES ($1, $2, $3, "
            "$4::text::text[], $5, $6, $7, $8::text::jsonb, $9, $10, $11, $12, $13)",
            {text_arg(r.name),
             text_arg(r.task),
             text_arg(r.source),
             text_arg(r.columns_sql),
             {INT8OID, Int64GetDatum(r.dimension)},
             {INT8OID, Int64GetDatum(r.rows)},
             {INT8OID, Int64GetDatum(r.skipped)},
             text_arg(r.options_json),
             {INT4OID, Int32GetDatum(r.epochs)},
             {FLOAT8OID, Float8GetDatum(r.loss), !std::isfinite(r.loss)},
             {FLOAT8OID, Float8GetDatum(r.seconds)},
             {OIDOID, ObjectIdGetDatum(caller)},
             {state_type, PointerGetDatum(r.state)}});
        sync_owner_marker(caller);
        if (OidIsValid(replaced_owner) && replaced_owner != caller)
            sync_owner_marker(replaced_owner);
        spi::finish();
    });
    invalidate_plans();
}

Model load(const std::string &name, MemoryContext context) {
    Model m;
    bool found = false, granted = false;
    as_store_owner([&] {
        spi::connect();
        const Oid caller = GetUserId();
        const uint64_t n = spi::exec(
            "SELECT m.task, m.owner, m.state, "
            "EXISTS (SELECT 1 FROM bismarck.grant_store g WHERE g.model = m.name AND "
            "(g.grantee = 0 OR pg_catalog.pg_has_role($2, g.grantee, 'USAGE'))) "
            "FROM bismarck.model_store m WHERE m.name = $1",
            {text_arg(name), {OIDOID, ObjectIdGetDatum(caller)}}, true);
        if (n > 0) {
            found = true;
            bool isnull;
            m.name = name;
            m.task = spi::text_value(0, 1);
            m.owner = DatumGetObjectId(spi::value(0, 2, &isnull));
            MemoryContext old = MemoryContextSwitchTo(context);  // detoast into `context` too
            m.state = read_state(spi::value(0, 3, &isnull, context));
            MemoryContextSwitchTo(old);
            granted = DatumGetBool(spi::value(0, 4, &isnull));
        }
        spi::finish();
    });
    if (!found && on_citus_worker())
        fail(ERRCODE_UNDEFINED_OBJECT, "model \"" + name + "\" does not exist on this Citus worker",
             "Models live in the coordinator's catalog; a query over a distributed table carries "
             "the models it names when bismarck is loaded on the coordinator as the query is "
             "planned.",
             "Add bismarck to shared_preload_libraries on the coordinator ('citus, bismarck'), "
             "or run LOAD 'bismarck' in the session first.");
    if (!found)
        fail(ERRCODE_UNDEFINED_OBJECT, "model \"" + name + "\" does not exist", {},
             "SELECT name FROM bismarck.models lists the models you may use.");
    if (!granted && !may_use_as(m.owner))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied for model \"" + name + "\"", {},
             "Its owner can share it with bismarck.grant_model().");
    return m;
}

bool drop(const std::string &name) {
    Oid owner = InvalidOid;
    if (!exists(name, &owner)) return false;
    if (!may_use_as(owner))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to drop model \"" + name + "\"",
             "Only its owner (or a member of the owner role) may drop a model.");
    as_store_owner([&] {
        spi::connect();
        spi::exec("DELETE FROM bismarck.model_store WHERE name = $1", {text_arg(name)});
        spi::exec("DELETE FROM bismarck.log_store WHERE model = $1", {text_arg(name)});
        spi::exec("DELETE FROM bismarck.grant_store WHERE model = $1", {text_arg(name)});
        sync_owner_marker(owner);
        spi::finish();
    });
    invalidate_plans();
    return true;
}

void grant(const std::string &name, Oid role, bool revoke) {
    Oid owner = InvalidOid;
    if (!exists(name, &owner))
        fail(ERRCODE_UNDEFINED_OBJECT, "model \"" + name + "\" does not exist");
    if (!may_use_as(owner))
        fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to share model \"" + name + "\"",
             "Only its owner (or a member of the owner role) may grant or revoke it.");
    as_store_owner([&] {
        spi::connect();
        spi::exec("DELETE FROM bismarck.grant_store WHERE model = $1 AND grantee = $2",
                  {text_arg(name), {OIDOID, ObjectIdGetDatum(role)}});
        if (!revoke)
            spi::exec("INSERT INTO bismarck.grant_store (model, grantee) VALUES ($1, $2)",
                      {text_arg(name), {OIDOID, ObjectIdGetDatum(role)}});
        spi::finish();
    });
    invalidate_plans();
}

}  // namespace bismarck::uda::catalog
