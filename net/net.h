/* net/net.h — the peer network's public API: an authenticated, encrypted, framed transport
 * between settled nodes over TCP (libuv), and the message type registry. Wire format:
 * docs/p2p.md.
 *
 * Threads: a struct net_transport and its connections belong to the thread running their
 * uv_loop_t; nothing here is thread-safe except the pure codecs (net_msg_*).
 * sn_crypto_init() must have returned SN_OK before net_transport_new. libuv writes to
 * sockets with write(2), so the process must ignore SIGPIPE (a peer that goes away would
 * otherwise kill it): node/'s main does signal(SIGPIPE, SIG_IGN) before starting a transport.
 *
 * Callbacks (libuv style): a call that fails never runs a callback for it. Every connection
 * the transport hands out — dialled, or accepted (even one that fails its handshake) — gets
 * exactly one on_close; on_connect runs at most once before it, when the handshake has
 * authenticated the peer. A struct net_conn stays valid until on_close returns. Callbacks
 * may call any function here, including net_conn_close and net_transport_close. */
#ifndef SN_NET_H
#define SN_NET_H

#include "common/common.h"

struct uv_loop_s;
struct net_transport;
struct net_conn;

#define NET_PROTOCOL_VERSION 1
#define NET_NODE_KEY_LEN 32    /* Ed25519 public key */
#define NET_NODE_SECKEY_LEN 64 /* Ed25519 secret key, libsodium layout (seed | public key) */
#define NET_USER_AGENT_MAX 64  /* bytes, printable ASCII */
#define NET_REASON_MAX 160     /* a drop reason, with its NUL */

#define NET_FRAME_MAX_DEFAULT (4u << 20)  /* largest frame body accepted or sent */
#define NET_FRAME_MAX_MIN 1024u           /* smallest frame_max a transport accepts */
#define NET_FRAME_MAX_LIMIT (64u << 20)   /* largest frame_max a transport accepts */
#define NET_SENDQ_MAX_DEFAULT (16u << 20) /* bytes queued per connection before SN_E_BUSY */
#define NET_HANDSHAKE_TIMEOUT_DEFAULT_MS 10000u

/* ------------------------------------------------------- message registry */

/* Message types (u16 on the wire). Type 0 is the handshake's AUTH frame and is never
 * delivered to or sent by the owner. Payload limits: NET_MSG_*_MAX. */
enum net_msg_type {
	NET_MSG_PING = 1, /* u64 le nonce */
	NET_MSG_PONG = 2, /* u64 le nonce (the PING's) */
	NET_MSG_TX = 3,   /* a transaction's bytes, opaque here (storage decodes them) */
	NET_MSG_GET_PEERS = 4, /* empty: asks for PEERS */
	NET_MSG_PEERS = 5,     /* u8 n (<= NET_PEERS_MAX) | n x (node_key[32] | u8 family 4|6 |
	                        * ip[4|16] | u16 le port) */
};
#define NET_MSG_PING_MAX 8
#define NET_MSG_PONG_MAX 8
#define NET_TX_MAX (64u * 1024) /* generous: storage's own bound is STORE_TX_MAX */
#define NET_PEERS_MAX 32        /* addresses in one PEERS message */
#define NET_MSG_GET_PEERS_MAX 0
#define NET_MSG_PEERS_MAX (1 + NET_PEERS_MAX * (32 + 1 + 16 + 2))

/* A peer's listen address as carried by PEERS. family: 4 (ip[0..4)) or 6 (ip[0..16)). */
struct net_addr {
	uint8_t family;
	uint8_t ip[16];
	uint16_t port; /* never 0 */
};

/* One PEERS entry: a connected peer's proven node key and its listen address. */
struct net_peer_addr {
	uint8_t node_key[32];
	struct net_addr addr;
};

/* A decoded message. tx.bytes borrows the payload it was decoded from. */
struct net_msg {
	uint16_t type;
	union {
		uint64_t nonce; /* PING, PONG */
		struct {
			const uint8_t *bytes;
			size_t len;
		} tx;
		struct {
			size_t n;
			struct net_peer_addr addrs[NET_PEERS_MAX];
		} peers; /* PEERS */
	} u;
};

/* "ip:port" / "[ip6]:port" of a; SN_E_INVAL if a is not a valid address. */
SN_MUST_CHECK int net_addr_format(char *out, size_t cap, const struct net_addr *a);
/* Parses "ip:port" or "[ip6]:port" (literal addresses only, port 1..65535). */
SN_MUST_CHECK int net_addr_parse(struct net_addr *a, const char *s);

/* Decodes payload[0..len) as a message of type: length-checked and canonical.
 * Errors: SN_E_TYPE (unknown type, or 0), SN_E_TOOBIG (above the type's maximum),
 * SN_E_TRUNCATED, SN_E_TRAILING. *m is zeroed on entry. */
SN_MUST_CHECK int net_msg_decode(struct net_msg *m, uint16_t type, const uint8_t *payload,
                                 size_t len);
/* Encodes m's payload into out[0..cap); *outlen set. Errors: SN_E_TYPE, SN_E_TOOBIG
 * (above the type's maximum, or cap too small), SN_E_INVAL. */
SN_MUST_CHECK int net_msg_encode(uint8_t *out, size_t cap, size_t *outlen,
                                 const struct net_msg *m);
/* The registry: name ("PING") and payload maximum of a type; NULL / 0 if unknown. */
const char *net_msg_name(uint16_t type);
size_t net_msg_max(uint16_t type);

/* ------------------------------------------------------------- transport */

/* What a peer said about itself in the handshake (its node key is proven by signature
 * once on_connect runs). */
struct net_hello {
	uint8_t node_key[NET_NODE_KEY_LEN];
	uint32_t chain_id;
	uint16_t version;     /* NET_PROTOCOL_VERSION */
	uint16_t listen_port; /* 0: not listening */
	char user_agent[NET_USER_AGENT_MAX + 1];
};

struct net_conn_stats {
	uint64_t bytes_in, bytes_out; /* wire bytes read, and written (completed) */
	uint64_t msgs_in, msgs_out;   /* messages delivered, and queued by net_conn_send */
	size_t queued;                /* wire bytes queued, not yet written */
};

/* A peer connected to us; its address is known (net_conn_peer_addr), the handshake has not
 * started. The owner may refuse it with net_conn_close (its on_close still runs). */
typedef void net_accept_cb(struct net_conn *c, void *ud);
/* The handshake authenticated the peer: node_key is the key it proved (also in
 * net_conn_hello(c)). net_conn_send works from now on. */
typedef void net_connect_cb(struct net_conn *c, const uint8_t node_key[NET_NODE_KEY_LEN],
                            void *ud);
/* One message, already validated by the registry's decoder (net_msg_decode succeeds on
 * it). payload is borrowed until the callback returns. */
typedef void net_message_cb(struct net_conn *c, uint16_t type, const uint8_t *payload,
                            size_t len, void *ud);
/* The connection is gone. err: SN_OK when we closed it (net_conn_close); SN_E_CANCELLED
 * when the transport closed; otherwise why it was dropped (docs/p2p.md, "Failure
 * reasons"), with reason a sentence for people. Both are valid during the call only;
 * c is freed when it returns. */
typedef void net_close_cb(struct net_conn *c, int err, const char *reason, void *ud);
/* The transport and all its handles are closed; it is freed when this returns. */
typedef void net_transport_closed_cb(void *ud);

struct net_opts {
	const uint8_t *node_seckey; /* NET_NODE_SECKEY_LEN bytes; copied (guarded memory) */
	uint32_t chain_id;
	const char *user_agent;        /* NULL: "settled"; copied */
	uint32_t frame_max;            /* 0: NET_FRAME_MAX_DEFAULT */
	size_t sendq_max;              /* 0: NET_SENDQ_MAX_DEFAULT; at least one full frame */
	uint64_t handshake_timeout_ms; /* 0: NET_HANDSHAKE_TIMEOUT_DEFAULT_MS */
	net_accept_cb *on_accept;      /* may be NULL */
	net_connect_cb *on_connect;    /* may be NULL */
	net_message_cb *on_message;    /* may be NULL */
	net_close_cb *on_close;        /* may be NULL */
	void *ud;                      /* passed to the four callbacks */
};

/* A new transport on loop (the caller's, which must outlive it). On SN_OK *out is owned by
 * the caller until net_transport_close. Errors: SN_E_INVAL (NULL key or callbacks' loop,
 * limits out of range, user agent too long or not printable ASCII), SN_E_BADKEY (the
 * secret key's public half does not match its seed), SN_E_NOMEM, SN_E_IO. */
SN_MUST_CHECK int net_transport_new(struct net_transport **out, struct uv_loop_s *loop,
                                    const struct net_opts *opts);
/* Accepts peers on ip:port (IPv4 or IPv6 literal; port 0 picks a free one, see
 * net_transport_port). Once per transport. Errors: SN_E_INVAL (bad address, already
 * listening, closing), SN_E_EXISTS (address in use), SN_E_IO. */
SN_MUST_CHECK int net_transport_listen(struct net_transport *t, const char *ip, uint16_t port);
/* The port being listened on, 0 if not listening. */
uint16_t net_transport_port(const struct net_transport *t);
/* Connects to ip:port. On SN_OK *out is the new connection (owned by the transport, valid
 * until its on_close returns) and the handshake timeout is running. Errors: SN_E_INVAL
 * (bad address, transport closing), SN_E_NOMEM, SN_E_IO; then nothing runs. */
SN_MUST_CHECK int net_transport_dial(struct net_transport *t, struct net_conn **out,
                                     const char *ip, uint16_t port);
/* Stops listening and closes every connection (their on_close get SN_E_CANCELLED); cb
 * (may be NULL) runs when all handles are closed, then t is freed: keep the loop running.
 * Accepts NULL; a second call does nothing. */
void net_transport_close(struct net_transport *t, net_transport_closed_cb *cb, void *ud);
/* Our own node key. Borrowed from t. */
const uint8_t *net_transport_node_key(const struct net_transport *t);

/* Sends one message: validated with net_msg_decode (so we never send what a peer would
 * reject), sealed into a frame and queued. Only between on_connect and on_close.
 * Errors: SN_E_INVAL (not connected yet, closing, NULL payload with len > 0),
 * SN_E_TYPE / SN_E_TOOBIG / SN_E_TRUNCATED / SN_E_TRAILING (payload is not a valid
 * message of type, or its frame is above frame_max), SN_E_BUSY (the send queue holds
 * sendq_max bytes: back off until it drains, see net_conn_stats), SN_E_NOMEM, SN_E_IO. */
SN_MUST_CHECK int net_conn_send(struct net_conn *c, uint16_t type, const uint8_t *payload,
                                size_t len);
/* Closes c; its on_close runs later with SN_OK ("closed by us"). Idempotent; a
 * connection already being dropped keeps its first reason. */
void net_conn_close(struct net_conn *c);
void net_conn_stats(const struct net_conn *c, struct net_conn_stats *out);
/* The peer's handshake hello, NULL before on_connect. Borrowed from c. */
const struct net_hello *net_conn_hello(const struct net_conn *c);
bool net_conn_inbound(const struct net_conn *c);
/* The peer's address as "ip:port" (borrowed from c; "?" if unknown). */
const char *net_conn_peer_addr(const struct net_conn *c);
/* An owner pointer carried by the connection (NULL until set). */
void net_conn_set_data(struct net_conn *c, void *data);
void *net_conn_data(const struct net_conn *c);

/* ----------------------------------------------------------- peer manager */

/* The peer manager (net/peers.c) runs a transport and keeps the node connected: persistent
 * peers and seeds from the owner, outbound dialing in batches (a task group per batch) with
 * exponential backoff and jitter, caps on inbound and outbound peers, PING/PONG keepalive
 * with a timeout, peer exchange (GET_PEERS/PEERS: only listen addresses proven by a
 * handshake), misbehaviour scores with bans, and transaction gossip through a bounded
 * seen-cache. Owner-facing data: net_peers_list, net_peers_summary, net_peers_drops,
 * net_peers_bans. Files stay with the owner: the ban list comes in through
 * net_peers_bans_load and goes out through the on_bans callback. docs/p2p.md, "Peers".
 * Same thread rules as the transport: everything on the loop's thread. */
struct net_peers;

#define NET_SCORE_START 100   /* a peer's score when first seen; at or below 0 it is banned */
#define NET_BANS_MAX 1024     /* entries in the ban list (oldest expiry replaced when full) */
#define NET_ADDRBOOK_MAX 1024 /* known addresses */
#define NET_SCORES_MAX 1024   /* identities with a score */
#define NET_DROPS_MAX 32      /* recent drops kept for net_info */
#define NET_SEEN_DEFAULT 65536
#define NET_ID_MAX 72 /* "key:" + 64 hex, or "ip:" + an address, with the NUL */

/* Misbehaviour penalties (points off the score). */
#define NET_PENALTY_GARBAGE 40   /* bad magic/hello/frame before the handshake, bad AUTH */
#define NET_PENALTY_CHAIN 20     /* other chain or protocol version */
#define NET_PENALTY_PROTOCOL 50  /* after the handshake: bad frame, unknown type, malformed */
#define NET_PENALTY_TOOBIG 50    /* oversized frame or message */
#define NET_PENALTY_INVALID_TX 20
#define NET_PENALTY_SLOW 10      /* handshake or ping timeout, send queue full */
#define NET_PENALTY_UNSOLICITED 10
#define NET_PENALTY_FLOOD 10     /* per NET_TX_FLOOD_DROPS transactions dropped over its budget */

/* Each peer's transaction budget: a token bucket refilled at tx_rate new transactions a
 * second, holding at most twice that. A transaction not seen before costs a token (it costs
 * us a signature check); one the owner then rejects (valid but not admitted: a bad nonce, no
 * balance, a full mempool) costs NET_TX_REJECT_COST more, so a peer replaying failing
 * transactions runs dry sooner. With no token left the transaction is dropped unchecked, and
 * every NET_TX_FLOOD_DROPS drops cost NET_PENALTY_FLOOD points. Duplicates are free. */
#define NET_TX_RATE_DEFAULT 10000u
#define NET_TX_REJECT_COST 4u
#define NET_TX_FLOOD_DROPS 1000u

/* What the owner found a gossiped transaction to be. */
enum net_tx_verdict {
	NET_TX_ADMITTED, /* relayed to every other connected peer */
	NET_TX_REJECTED, /* valid but not admitted (duplicate, nonce, full): not relayed */
	NET_TX_INVALID,  /* the sender misbehaved (bad encoding, signature, chain): scored down */
};

/* A peer sent a transaction not seen before (bytes borrowed during the call). The owner
 * checks it, maybe later, and answers with net_peers_tx_verdict. */
typedef void net_peers_tx_cb(struct net_peers *pm, uint64_t peer_id, const uint8_t *tx, size_t len,
                             void *ud);
/* The ban list changed: data[0..len) is its encoding (net_peers_bans_load reads it back),
 * borrowed during the call. The owner persists it. */
typedef void net_peers_bans_cb(const uint8_t *data, size_t len, void *ud);
typedef void net_peers_closed_cb(void *ud);

struct net_peers_opts {
	const uint8_t *node_seckey; /* NET_NODE_SECKEY_LEN; copied into guarded memory */
	uint32_t chain_id;
	const char *user_agent;        /* NULL: "settled" */
	uint32_t frame_max;            /* 0: NET_FRAME_MAX_DEFAULT */
	size_t sendq_max;              /* 0: NET_SENDQ_MAX_DEFAULT */
	uint64_t handshake_timeout_ms; /* 0: NET_HANDSHAKE_TIMEOUT_DEFAULT_MS */
	const char *const *seeds;      /* "ip:port" each, n_seeds of them; copied */
	size_t n_seeds;
	const char *const *persistent; /* "ip:port": always redialled, not counted in the cap */
	size_t n_persistent;
	unsigned max_inbound;       /* 0: 32 */
	unsigned max_outbound;      /* 0: 8 */
	uint64_t ping_interval_ms;  /* 0: 10000 */
	uint64_t ping_timeout_ms;   /* 0: 30000; a PING unanswered this long drops the peer */
	uint64_t backoff_min_ms;    /* 0: 500 */
	uint64_t backoff_max_ms;    /* 0: 60000 */
	uint64_t pex_interval_ms;   /* 0: 30000; how often each peer is asked for PEERS */
	uint64_t ban_seconds;       /* 0: 86400 */
	size_t seen_max;            /* 0: NET_SEEN_DEFAULT transaction digests remembered */
	uint32_t tx_rate;           /* 0: NET_TX_RATE_DEFAULT new transactions/s per peer */
	uint64_t (*wall_ms)(void *ud);                      /* NULL: the system clock */
	void (*random)(void *buf, size_t len, void *ud);    /* NULL: sn_random_bytes */
	net_peers_tx_cb *on_tx;     /* may be NULL: transactions are then dropped */
	net_peers_bans_cb *on_bans; /* may be NULL */
	void *ud;
};

/* A manager on loop (which must outlive it). Errors: SN_E_INVAL (bad options, an address
 * that is not "ip:port"), SN_E_BADKEY, SN_E_NOMEM, SN_E_IO. */
SN_MUST_CHECK int net_peers_new(struct net_peers **out, struct uv_loop_s *loop,
                                const struct net_peers_opts *opts);
/* Loads a ban list written by on_bans (expired entries are dropped). Before net_peers_start.
 * Errors: SN_E_VERSION, SN_E_TRUNCATED, SN_E_TRAILING, SN_E_TOOBIG, SN_E_NONCANONICAL. */
SN_MUST_CHECK int net_peers_bans_load(struct net_peers *pm, const uint8_t *data, size_t len);
/* Accepts peers on ip:port (see net_transport_listen); before net_peers_start so that our
 * hellos carry the port. */
SN_MUST_CHECK int net_peers_listen(struct net_peers *pm, const char *ip, uint16_t port);
uint16_t net_peers_port(const struct net_peers *pm);
/* Starts dialing, keepalive and peer exchange. Errors: SN_E_INVAL (twice, or closing). */
SN_MUST_CHECK int net_peers_start(struct net_peers *pm);
/* Closes every connection and the transport; cb (may be NULL) runs when everything is
 * closed, then pm is freed. Accepts NULL; a second call does nothing. */
void net_peers_close(struct net_peers *pm, net_peers_closed_cb *cb, void *ud);

/* The owner's answer for a transaction from on_tx (the peer may be gone: then only the
 * relay happens). */
void net_peers_tx_verdict(struct net_peers *pm, uint64_t peer_id, const uint8_t *tx, size_t len,
                          enum net_tx_verdict v);
/* Gossips a transaction the owner admitted itself (RPC): sent to every connected peer once;
 * nothing if it was seen already. Returns how many peers it was queued to. */
size_t net_peers_broadcast_tx(struct net_peers *pm, const uint8_t *tx, size_t len);
/* Takes points off peer_id's score (and its identity's); at or below 0 it is dropped and
 * banned. why: a short sentence for the drop reason. */
void net_peers_penalize(struct net_peers *pm, uint64_t peer_id, int points, const char *why);

struct net_peer_info {
	uint64_t id;
	uint8_t node_key[NET_NODE_KEY_LEN];
	bool inbound;
	char addr[64];      /* the remote "ip:port" */
	uint16_t listen_port; /* from its hello; 0: not listening */
	char user_agent[NET_USER_AGENT_MAX + 1];
	int score;
	uint64_t bytes_in, bytes_out, msgs_in, msgs_out;
	size_t queued;
	uint64_t connected_ms; /* for how long */
	int64_t rtt_ms;        /* last PING round trip, -1 before the first PONG */
};
struct net_peers_summary {
	uint16_t listen_port;
	size_t inbound, outbound, connecting, known_addrs, bans, seen;
	uint64_t txs_received, txs_duplicate, txs_invalid, txs_relayed;
	uint64_t txs_over_budget; /* dropped unchecked: the peer had no token left */
};
struct net_peer_drop {
	char addr[64];
	bool has_key; /* node_key was proven by the handshake */
	uint8_t node_key[NET_NODE_KEY_LEN];
	bool inbound, banned;
	int score; /* the identity's score after the drop */
	int err;   /* why (SN_E_*; SN_OK: closed by us without blame) */
	char reason[NET_REASON_MAX];
	uint64_t wall_ms;
};
struct net_ban {
	char id[NET_ID_MAX]; /* "key:<hex>" or "ip:<address>" */
	uint64_t until_ms;   /* wall clock */
};
/* Fill out[0..cap) and return how many there are in all (may be more than cap). */
size_t net_peers_list(const struct net_peers *pm, struct net_peer_info *out, size_t cap);
size_t net_peers_drops(const struct net_peers *pm, struct net_peer_drop *out, size_t cap); /* newest first */
size_t net_peers_bans(const struct net_peers *pm, struct net_ban *out, size_t cap);
void net_peers_summary(const struct net_peers *pm, struct net_peers_summary *out);

#endif
