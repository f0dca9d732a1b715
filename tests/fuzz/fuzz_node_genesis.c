/* tests/fuzz/fuzz_node_genesis.c — node_genesis_parse on arbitrary bytes. A refusal must say
 * why; an accepted genesis must be within its bounds, and node_genesis_write to a file and
 * node_genesis_load again must give the same genesis. */
#include "tests/fuzz/fuzz.h"
#include "node/home_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static bool same(const struct node_genesis *a, const struct node_genesis *b)
{
	if (a->chain_id != b->chain_id || a->g.time_ms != b->g.time_ms ||
	    memcmp(a->g.root, b->g.root, SN_PUBKEY_LEN) || a->g.root_balance != b->g.root_balance ||
	    a->g.params.min_fee != b->g.params.min_fee || a->g.params.max_block_txs != b->g.params.max_block_txs ||
	    a->g.n_accounts != b->g.n_accounts || a->n_validators != b->n_validators ||
	    a->n_developers != b->n_developers || a->n_community != b->n_community)
		return false;
	for (size_t i = 0; i < a->g.n_accounts; i++)
		if (memcmp(a->g.accounts[i].key, b->g.accounts[i].key, SN_PUBKEY_LEN) ||
		    memcmp(a->g.accounts[i].sponsor, b->g.accounts[i].sponsor, SN_PUBKEY_LEN) ||
		    a->g.accounts[i].balance != b->g.accounts[i].balance)
			return false;
	for (size_t i = 0; i < a->n_validators; i++)
		if (memcmp(a->validators[i].key, b->validators[i].key, NODE_ED25519_PK_LEN) ||
		    a->validators[i].power != b->validators[i].power)
			return false;
	for (size_t i = 0; i < a->n_developers; i++)
		if (memcmp(a->developers[i].key, b->developers[i].key, SN_PUBKEY_LEN) ||
		    a->developers[i].weight != b->developers[i].weight)
			return false;
	for (size_t i = 0; i < a->n_community; i++)
		if (memcmp(a->community[i].key, b->community[i].key, SN_PUBKEY_LEN) ||
		    a->community[i].weight != b->community[i].weight)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct node_genesis gen, back;
	char err[512], path[256];
	const char *base = getenv("TMPDIR");
	int rc;

	if (sn_crypto_init() != SN_OK)
		abort();
	err[0] = '\0';
	rc = node_genesis_parse(&gen, (const char *)data, size, err, sizeof(err));
	if (rc != SN_OK) {
		CHECK(rc == SN_E_INVAL || rc == SN_E_NOMEM);
		CHECK(rc == SN_E_NOMEM || err[0]);
		CHECK(gen.accounts == NULL);
		return 0;
	}
	CHECK(gen.chain_id != 0);
	CHECK(gen.n_validators >= 1 && gen.n_validators <= NODE_MAX_VALIDATORS);
	CHECK(gen.n_developers >= 1 && gen.n_developers <= NODE_MAX_MEMBERS);
	CHECK(gen.n_community >= 1 && gen.n_community <= NODE_MAX_MEMBERS);
	CHECK(gen.g.params.max_block_txs >= 1 && gen.g.params.max_block_txs <= STORE_BLOCK_MAX_TXS);
	CHECK(sn_schnorr_pubkey_check(gen.g.root) == SN_OK);
	CHECK(gen.g.accounts == gen.accounts);

	snprintf(path, sizeof(path), "%s/fuzz_node_genesis.%ld.json", base && *base ? base : "/tmp", (long)getpid());
	unlink(path);
	CHECK(node_genesis_write(&gen, path) == SN_OK);
	err[0] = '\0';
	rc = node_genesis_load(&back, path, err, sizeof(err));
	unlink(path);
	CHECK(rc == SN_OK);
	CHECK(same(&gen, &back));
	node_genesis_free(&back);
	node_genesis_free(&gen);
	return 0;
}
