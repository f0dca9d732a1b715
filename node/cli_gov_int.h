/* node/cli_gov_int.h — `settle gov`: governance proposals from the command line (docs/cli.md,
 * docs/governance.md). Internal to node/: compiled into sn_node, called by node/settle_main.c
 * only. `settle gov` parses its own arguments (its options repeat: --member, --validator,
 * --sig), the global options included, and talks to the node through node/cli_rpc_int.h.
 *
 * The two settle_* functions at the end are settle_main.c's: they are how every settle
 * command finds the node and its signer's next nonce, and `settle gov` does it the same way.
 * Only the `settle` binary, which links settle_main.c, may call cli_gov_main. */
#ifndef SN_NODE_CLI_GOV_H
#define SN_NODE_CLI_GOV_H

#include "node/cli_rpc_int.h"

/* Whether argv's command (its first word that is neither an option nor a global option's
 * value) is "gov". */
bool cli_gov_wanted(int argc, char **argv);

/* Runs `settle [global options] gov SUBCOMMAND [args] [options]`; home is the default home
 * ($SETTLED_HOME, else ./.settled). sn_crypto_init() is called here. Returns the exit code:
 * 0 ok, 1 error, 2 usage; failures print one line "settle: <reason>" on stderr. */
int cli_gov_main(int argc, char **argv, const char *home);

/* --- defined in node/settle_main.c --- */

/* Sets r to the node's endpoint and credentials: rpc_addr (else HOME/settled.conf), and
 * rpc_user/rpc_password (else HOME/rpc.cookie, else the config's rpc.user). Returns 0, or
 * the exit code after printing why. */
int settle_rpc_setup(struct cli_rpc *r, const char *home, const char *rpc_addr, const char *rpc_user,
                     const char *rpc_password);
/* The nonce the signer's next transaction needs: its account's, or one past its pending
 * ones. role and key_path name the signer in the error of an unregistered one. Returns 0,
 * or the exit code after printing why. */
int settle_next_nonce(const struct cli_rpc *r, const char *signer_hex, const char *role, const char *key_path,
                      uint64_t *nonce);

#endif
