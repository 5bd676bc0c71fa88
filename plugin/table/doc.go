// Package table compiles the records of all sources into an immutable answer
// table, and answers lookups from it. A Table is never modified after it is
// published (apart from per-name rotation counters), so ServeDNS reads it
// without locks; the Builder swaps in a new one whenever the inputs change.
//
// # Changes cost in proportion to their size
//
// A large estate has tens of thousands of names and a steady trickle of
// status, endpoint and probe changes, so the Builder never recompiles the
// zone for a change; it applies the change to the names it touches:
//
//   - model.Store indexes its objects by name and remembers which names an
//     object change added or dropped (TakeChanged); the builder reads the
//     merged records of just those names (RecordsOf).
//   - Health says which names it affects: the root package's memberHealth
//     maps each probe target and each site's unprobed members to their
//     names, so a probe flip or a grace expiry calls Builder.Touch with
//     those names. Notify re-evaluates every name's health (a fallback),
//     still recompiling only the names whose health changed.
//   - For each such name the builder compares the new inputs (records and
//     their up flags) with the ones it compiled last; equal inputs cost
//     nothing and publish nothing. Otherwise compileService recompiles that
//     one name: a pure function of the name's records, health and the
//     Config, shared with the full Compile.
//   - Empty non-terminals (RFC 8020: a parent of a name must answer NODATA,
//     not NXDOMAIN) are kept by a count, per name, of the names with data
//     strictly below it in its zone: a name without data of its own exists
//     while its count is above zero, so adding or removing a name walks
//     only its own parents. Zone apexes and the names between nested zones
//     always exist. Name server glue is data of its name unless a service
//     holds that name.
//   - The serial is max(previous+1, unix time); every table gets fresh
//     zone apexes (the SOA carries the serial), which is why nodes refer to
//     their zone by index, not pointer. Per-zone down counts, per-zone
//     service counts and per-site member counts are kept as running totals,
//     so the gauges cost nothing per name either.
//
// # Sharing the unchanged part
//
// Owner names live in a nameMap: 1024 shards, each an ordinary Go map,
// picked by a seeded hash of the name (hash/maphash, no allocation). A new
// table copies the array of 1024 shard pointers (8 KiB) and copies only
// the shards it writes, each once per batch; every other shard, and every
// node of an unchanged name, is shared with the previous table. A change
// of k names thus costs O(k * (names/1024)) map entries to copy, plus the
// constant array: microseconds at 100 000 names. A persistent tree (HAMT)
// would copy less per change but costs a pointer chase per level on every
// query; two map lookups keep ServeDNS as fast as with one flat map.
//
// Readers load the table pointer once per query (atomic), so a query sees
// one whole table: a change of several names (one object, one batch) is
// visible all at once or not at all, and old tables stay valid for
// queries still using them until the garbage collector frees them.
//
// Changes are batched: after the first change the builder waits Debounce
// (10 ms) and applies everything that came meanwhile, so an informer's
// initial list of thousands of objects costs a handful of batches, while a
// single change shows in the answers about 10 ms after it arrives.
//
// Compile builds the same table from scratch in one pass; the tests apply
// random sequences of changes incrementally and require the result to
// equal Compile's, name by name.
package table
