/* node/home_int.h — a node's home directory: key files and the genesis file. Internal to node/. */
#ifndef SN_NODE_HOME_H
#define SN_NODE_HOME_H

#include "governance/governance.h"
#include "storage/storage.h"

#define NODE_ED25519_PK_LEN 32
#define NODE_ED25519_SK_LEN 64
#define NODE_MAX_VALIDATORS 128 /* = GOV_VALIDATORS_MAX: the set is a governance record */
#define NODE_MAX_MEMBERS 256

/* Writes len bytes as one line of hex to path, atomically (temporary file, fsync, rename,
 * fsync of the directory), mode 0600. SN_E_EXISTS if path exists: a key is never replaced. */
SN_MUST_CHECK int node_keyfile_write(const char *path, const uint8_t *key, size_t len);
/* Reads a key file written by node_keyfile_write. Refuses, saying why in err, a file that
 * group or others may read (SN_E_INVAL), or one that is not exactly len bytes of hex. */
SN_MUST_CHECK int node_keyfile_read(const char *path, uint8_t *key, size_t len, char *err, size_t errlen);

/* An Ed25519 node key from its 32-byte seed (libsodium). sk is wiped by the caller. */
void node_ed25519_from_seed(uint8_t pk[NODE_ED25519_PK_LEN], uint8_t sk[NODE_ED25519_SK_LEN],
                            const uint8_t seed[32]);

struct node_validator {
	uint8_t key[NODE_ED25519_PK_LEN];
	uint64_t power;
};

struct node_member {
	uint8_t key[SN_PUBKEY_LEN];
	uint64_t weight;
};

struct node_genesis {
	uint32_t chain_id;
	struct store_genesis g; /* g.accounts points into accounts, g.gov to gov_records */
	struct store_genesis_account *accounts;
	/* Governance parameters besides min_fee and max_block_txs (in g.params): "params"
	 * timelock_blocks, proposal_max_deadline_blocks, mempool_max_txs, mempool_max_bytes. */
	uint64_t timelock_blocks, proposal_max_deadline_blocks, mempool_max_txs, mempool_max_bytes;
	struct store_gov_record *gov_records; /* built by parse from the fields below (sn_free) */
	struct node_validator validators[NODE_MAX_VALIDATORS];
	size_t n_validators;
	struct node_member developers[NODE_MAX_MEMBERS], community[NODE_MAX_MEMBERS];
	size_t n_developers, n_community;
};

/* Parses a genesis file (JSON, docs/genesis.md) and builds its governance records (council,
 * validators, params, next proposal id, paused) into g.gov. err says what is wrong and where. */
SN_MUST_CHECK int node_genesis_load(struct node_genesis *gen, const char *path, char *err, size_t errlen);
/* Parses genesis JSON text (for tests and fuzzing). */
SN_MUST_CHECK int node_genesis_parse(struct node_genesis *gen, const char *json, size_t len, char *err,
                                     size_t errlen);
void node_genesis_free(struct node_genesis *gen);
/* Writes gen as JSON to path (mode 0644, atomically). SN_E_EXISTS if path exists. */
SN_MUST_CHECK int node_genesis_write(const struct node_genesis *gen, const char *path);

/* Writes a file atomically with the given mode; SN_E_EXISTS if it exists and !replace. */
/* Reads the whole file at path into *out (malloc'd, sn_free; a NUL after its len bytes).
 * SN_E_NOTFOUND if there is none, SN_E_TOOBIG if it holds more than max bytes, else the
 * errno's error (sn_err_from_errno). */
SN_MUST_CHECK int node_file_read(const char *path, size_t max, uint8_t **out, size_t *len);
SN_MUST_CHECK int node_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                         bool replace);

#endif
