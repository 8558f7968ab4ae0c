// Shards Switchboard's session store on a sharded cluster, by session id.
// Run it once with mongosh against a mongos, before the first orchestrator
// starts (sharding an empty collection is instant):
//
//   mongosh "mongodb://mongos.example:27017/switchboard" deploy/mongodb/shard-collections.js
//
// The database is the one in the connection string (SWITCHBOARD_DB or the
// URI's database for the orchestrators). The keys are the store's
// sessionShardKeys (src/store/mongo-indexes.ts), where the reasons are;
// the tests check that the two agree. The orchestrators create the indexes
// themselves at start.

const name = db.getName();
sh.enableSharding(name);
// A head's _id is its session id; hashing spreads sessions over the shards.
sh.shardCollection(`${name}.sessions`, { _id: "hashed" });
// A version's and a failed turn's _id starts with the session id: ranges of
// _id are ranges of sessions, and the unique _id stays the commit's
// compare-and-set across the cluster.
sh.shardCollection(`${name}.session_versions`, { _id: 1 });
sh.shardCollection(`${name}.session_failures`, { _id: 1 });
print(`sharded ${name}.sessions, ${name}.session_versions and ${name}.session_failures by session id`);
