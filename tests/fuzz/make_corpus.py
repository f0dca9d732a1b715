#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py — writes the committed seed corpora for the fuzz targets.

    python3 tests/fuzz/make_corpus.py          # (re)writes tests/fuzz/corpus/<target>/seed-*

Deterministic: the same files every run. Valid transactions are real encodings (docs/
protocol.md) with real BIP340 signatures over the real sighash, made here by the BIP340
reference algorithm and BLAKE2b tagged hashes; the worked example of docs/protocol.md is
among them, so tests/storage/test_protocol_doc.c cross-checks this generator's encoder.
Invalid seeds are near misses of valid ones (truncations, trailing bytes, bad version,
type and lengths), which lead the fuzzer to the decoders' edges quickly.
Only files named seed-* are written; inputs the fuzzer found and someone committed stay.
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# ---------------------------------------------------------------- BIP340 (reference algorithm)
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def point_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and p1[1] != p2[1]:
        return None
    if p1 == p2:
        lam = 3 * p1[0] * p1[0] * pow(2 * p1[1], P - 2, P) % P
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], P - 2, P) % P
    x3 = (lam * lam - p1[0] - p2[0]) % P
    return (x3, (lam * (p1[0] - x3) - p1[1]) % P)


def point_mul(pt, k):
    r = None
    for i in range(256):
        if (k >> i) & 1:
            r = point_add(r, pt)
        pt = point_add(pt, pt)
    return r


def sha256_tagged(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()


def b32(x):
    return x.to_bytes(32, "big")


def pubkey(sk):
    return b32(point_mul(G, int.from_bytes(sk, "big"))[0])


def schnorr_sign(sk, msg, aux=bytes(32)):
    d0 = int.from_bytes(sk, "big")
    pt = point_mul(G, d0)
    d = d0 if pt[1] % 2 == 0 else N - d0
    t = bytes(a ^ b for a, b in zip(b32(d), sha256_tagged("BIP0340/aux", aux)))
    k0 = int.from_bytes(sha256_tagged("BIP0340/nonce", t + b32(pt[0]) + msg), "big") % N
    r = point_mul(G, k0)
    k = k0 if r[1] % 2 == 0 else N - k0
    e = int.from_bytes(sha256_tagged("BIP0340/challenge", b32(r[0]) + b32(pt[0]) + msg), "big") % N
    return b32(r[0]) + b32((k + e * d) % N)


# ---------------------------------------------------------------- settled encodings
def tagged_hash(tag, data):
    return hashlib.blake2b(data, digest_size=32, person=tag.encode().ljust(16, b"\0")).digest()


REGISTER, TRANSFER = 1, 2


def tx_unsigned(tx_type, chain_id, signer, nonce, fee, to, amount, version=1, payload_len=40):
    return (struct.pack("<BBI", version, tx_type, chain_id) + signer +
            struct.pack("<QQH", nonce, fee, payload_len) + to + struct.pack("<Q", amount))


def tx_signed(sk, tx_type, chain_id, nonce, fee, to, amount, aux=bytes(32)):
    body = tx_unsigned(tx_type, chain_id, pubkey(sk), nonce, fee, to, amount)
    return body + schnorr_sign(sk, tagged_hash("settled/tx/sig", body), aux)


def block(txs, chain_id=42, height=1, prev=bytes(32), time_ms=1700000000000, count=None,
          version=1, state_root=bytes(32)):
    ids = b"".join(tagged_hash("settled/tx/id", t) for t in txs)
    root = tagged_hash("settled/txroot", struct.pack("<I", len(txs)) + ids)
    hdr = (struct.pack("<BIQ", version, chain_id, height) + prev + struct.pack("<Q", time_ms) +
           bytes(32) + root + state_root + struct.pack("<I", len(txs) if count is None else count))
    return hdr + b"".join(struct.pack("<I", len(t)) + t for t in txs)


def account(seq, balance, nonce, sponsor, sponsor_seq, pvol, reg_height, depth, version=1):
    return (struct.pack("<BQQQ", version, seq, balance, nonce) + sponsor +
            struct.pack("<QQQQ", sponsor_seq, pvol, reg_height, depth))


def write(target, files):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    for name, data in files.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds")


def main():
    sk1, sk2, sk3 = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32
    pk2, pk3 = pubkey(sk2), pubkey(sk3)

    # The worked example of docs/protocol.md.
    example = tx_signed(sk1, TRANSFER, 42, 7, 10, pk2, 1000000)
    assert tagged_hash("settled/tx/id", example).hex() == \
        "11a7cf40adf5fcfbc30f4d49536d1c03a1b698414dd2e65ad51fe10a9b18fe22"
    register = tx_signed(sk1, REGISTER, 42, 0, 0, pk3, 0)
    transfer_big = tx_signed(sk2, TRANSFER, 0xFFFFFFFF, 2**64 - 1, 2**64 - 1, pk3, 2**64 - 1,
                             aux=bytes([0xAA]) * 32)
    unsigned = example[:96]
    txs = {
        "transfer-doc-example": example,
        "register-amount-zero": register,
        "transfer-max-fields": transfer_big,
        "bad-signature": unsigned + bytes(64),
        "empty": b"",
        "version-only": b"\x01",
        "truncated-header": example[:30],
        "header-only": example[:56],
        "truncated-signature": example[:159],
        "trailing-byte": example + b"\x00",
        "bad-version": b"\x02" + example[1:],
        "bad-type": example[:1] + b"\x03" + example[2:],
        "payload-len-41": tx_unsigned(TRANSFER, 42, pubkey(sk1), 7, 10, pk2, 1000000,
                                      payload_len=41) + b"\x00" + example[96:],
        "payload-len-39": example[:54] + struct.pack("<H", 39) + example[56:],
        "oversize": example + bytes(513 - len(example)),
    }
    write("fuzz_storage_tx", txs)

    blocks = {
        "empty-block": block([]),
        "one-tx": block([example]),
        "three-txs": block([register, example, transfer_big], height=2,
                           prev=tagged_hash("settled/block", block([])[:153])),
        "zero-length-tx": block([b""]),
        "header-truncated": block([])[:100],
        "body-truncated": block([example])[:-1],
        "trailing-byte": block([example]) + b"\x00",
        "count-too-high": block([example], count=2),
        "count-too-low": block([example, register], count=1),
        "count-over-max": block([], count=65537),
        "tx-len-over-max": block([])[:149] + struct.pack("<I", 1) + struct.pack("<I", 513) +
                           bytes(513),
        "bad-version": block([example], version=2),
        "empty": b"",
    }
    write("fuzz_storage_block", blocks)

    root = account(0, 10**9, 0, bytes(32), 0, 0, 0, 0)
    child = account(5, 1000, 3, pk2, 2, 0x0102030405060708, 9, 1)
    accounts = {
        "root": root,
        "child": child,
        "max-fields": account(2**64 - 1, 2**64 - 1, 2**64 - 1, bytes([0xFF]) * 32, 2**64 - 1,
                              2**64 - 1, 2**64 - 1, 2**64 - 1),
        "truncated": child[:88],
        "trailing-byte": child + b"\x00",
        "bad-version": account(5, 1000, 3, pk2, 2, 7, 9, 1, version=2),
        "version-only": b"\x01",
        "empty": b"",
        # the store's two halves of an account (schema 2, docs/storage.md)
        "cold": struct.pack("<BQ", 1, 5) + pk2 + struct.pack("<QQQ", 2, 9, 1),
        "cold-truncated": (struct.pack("<BQ", 1, 5) + pk2 + struct.pack("<QQQ", 2, 9, 1))[:64],
        "hot": struct.pack("<BQQQ", 1, 1000, 3, 0x0102030405060708),
        "hot-trailing-byte": struct.pack("<BQQQ", 1, 1000, 3, 7) + b"\x00",
        "hot-bad-version": struct.pack("<BQQQ", 2, 1000, 3, 7),
    }
    write("fuzz_storage_account", accounts)

    # The txs index's meta record (docs/storage.md, "The txs index"): v1 from before levels,
    # v2 with each level's dead/first/next and a merge's sources and position.
    def txgen_level(dead, first, nxt, n_src=0, last=None):
        b = struct.pack("<IIIB", dead, first, nxt, n_src)
        if n_src:
            b += b"\x01" + last if last is not None else b"\x00"
        return b

    def txgen_v2(next_height, levels):
        return struct.pack("<BQB", 2, next_height, len(levels)) + b"".join(levels)
    merging = txgen_v2(5000, [txgen_level(3, 8, 19, 8, bytes(range(32))), txgen_level(0, 0, 2)])
    txgens = {
        "v1": struct.pack("<BIQ", 1, 42, 10000),
        "v1-truncated": struct.pack("<BIQ", 1, 42, 10000)[:12],
        "v2-level0": txgen_v2(77, [txgen_level(0, 0, 5)]),
        "v2-merging": merging,
        "v2-merge-not-started": txgen_v2(9, [txgen_level(0, 0, 8, 8), txgen_level(1, 1, 1)]),
        "v2-purging-three-levels": txgen_v2(2**40, [txgen_level(8, 16, 20), txgen_level(0, 2, 3),
                                                    txgen_level(0, 0, 1)]),
        "v2-truncated": merging[:-1],
        "v2-trailing-byte": merging + b"\x00",
        "v2-one-source": txgen_v2(1, [txgen_level(0, 0, 9, 1)]),
        "v2-sources-past-next": txgen_v2(1, [txgen_level(0, 4, 9, 8)]),
        "v2-dead-after-first": txgen_v2(1, [txgen_level(5, 4, 9)]),
        "v2-empty-last-level": txgen_v2(1, [txgen_level(0, 0, 9), txgen_level(0, 0, 0)]),
        "v2-started-2": txgen_v2(1, [txgen_level(0, 0, 9, 8)])[:-1] + b"\x02" + bytes(32),
        "v2-no-levels": struct.pack("<BQB", 2, 1, 0),
        "v2-eleven-levels": struct.pack("<BQB", 2, 1, 11) + txgen_level(0, 0, 1) * 11,
        "v3": b"\x03" + merging[1:],
        "empty": b"",
    }
    write("fuzz_storage_txgen", txgens)

    hexes = {
        "empty": b"",
        "one-byte": b"00",
        "mixed-case": b"deadBEEF",
        "odd-length": b"abc",
        "not-hex": b"zz",
        "pubkey": pk2.hex().encode(),
        "tx": example.hex().encode(),
        "embedded-nul": b"ab\x00cd",
        "space": b"de ad",
        "level-info": b"info",
        "level-trace-upper": b"TRACE",
        "level-off": b"off",
        "level-warning": b"warning",
        "level-error": b"error",
    }
    write("fuzz_common_hex", hexes)

    write("fuzz_node_genesis", genesis_seeds(pubkey(sk1), pk2, pk3))
    write("fuzz_node_config", config_seeds())
    write("fuzz_node_http_response", http_seeds())
    write("fuzz_node_http_server", http_server_seeds())
    write("fuzz_node_json", json_seeds())
    write("fuzz_node_mempool_file", mempool_file_seeds([example, register, transfer_big]))


def mempool_file(txs, chain_id=1, version=1, count=None, check=None):
    """The pending transactions a node saves at a stop (docs/storage.md), or a near miss."""
    body = struct.pack("<BII", version, chain_id, len(txs) if count is None else count)
    body += b"".join(struct.pack("<I", len(t)) + t for t in txs)
    return body + (tagged_hash("settled/mempool", body) if check is None else check)


def mempool_file_seeds(txs):
    three = mempool_file(txs)
    return {
        "three": three,
        "none": mempool_file([]),
        "one-byte-tx": mempool_file([b"\x01"]),
        "other-chain": mempool_file(txs, chain_id=42),
        "bad-version": mempool_file(txs, version=2),
        "count-too-high": mempool_file(txs, count=4),
        "count-huge": mempool_file(txs, count=0xFFFFFFFF),
        "zero-length-tx": mempool_file([b""]),
        "tx-over-max": mempool_file([bytes(513)]),
        "bad-check": mempool_file(txs, check=bytes(32)),
        "truncated": three[:-1],
        "trailing-byte": three[:-32] + b"\x00" + three[-32:],
        "empty": b"",
    }


# ---------------------------------------------------------------- node home, config, RPC replies
def genesis_text(root, accounts=(), validators=None, developers=None, community=None, chain_id=1,
                 time_ms=1700000000000, params=None, extra=""):
    """A genesis file as settle init writes it (docs/genesis.md), or a near miss of one."""
    ed_a = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    validators = [(ed_a, 10)] if validators is None else validators
    developers = [(root, 1)] if developers is None else developers
    community = [(root, 1)] if community is None else community
    params = {"min_fee": '"1"', "max_block_txs": "10000"} if params is None else params

    def members(ms):
        return "[" + ", ".join('{"address": "%s", "weight": %s}' % (a, w) for a, w in ms) + "]"

    return ('{\n  "chain_id": %s,\n  "genesis_time_ms": %s,\n'
            '  "root": {"address": "%s", "balance": "1000000000000000"},\n'
            '  "accounts": [%s],\n  "params": {%s},\n  "validators": [%s],\n'
            '  "governance": {"developers": %s, "community": %s}%s\n}\n' % (
                chain_id, time_ms, root,
                ", ".join('{"address": "%s", "sponsor": "%s", "balance": "%s"}' % a for a in accounts),
                ", ".join('"%s": %s' % kv for kv in params.items()),
                ", ".join('{"node_key": "%s", "power": %s}' % v for v in validators),
                members(developers), members(community), extra)).encode()


def genesis_seeds(pk1, pk2, pk3):
    r, a, b = pk1.hex(), pk2.hex(), pk3.hex()
    ed_b = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    valid = genesis_text(r)
    return {
        "init": valid,
        "accounts-two-tracks": genesis_text(r, accounts=[(a, r, "5"), (b, a, "18446744073709551615")],
                                            validators=[("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 10),
                                                        (ed_b, '"1099511627776"')],
                                            developers=[(r, 2), (a, 1000000)], community=[(b, '"7"')],
                                            chain_id=4294967295),
        "time-past-int64": genesis_text(r, time_ms='"18446744073709551615"'),
        "time-int64-max": genesis_text(r, time_ms=9223372036854775807),
        "empty-track": genesis_text(r, developers=[]),
        "duplicate-member": genesis_text(r, community=[(a, 1), (a, 1)]),
        "duplicate-validator": genesis_text(r, validators=[(ed_b, 1), (ed_b, 2)]),
        "chain-id-zero": genesis_text(r, chain_id=0),
        "chain-id-too-big": genesis_text(r, chain_id=4294967296),
        "bad-hex-root": genesis_text("zz" + r[2:]),
        "root-not-on-curve": genesis_text("00" * 32),
        "no-validators": genesis_text(r, validators=[]),
        "power-too-big": genesis_text(r, validators=[(ed_b, 1099511627777)]),
        "max-block-txs-over": genesis_text(r, params={"max_block_txs": "65537"}),
        "min-fee-leading-zero": genesis_text(r, params={"min_fee": '"01"'}),
        "duplicate-key": genesis_text(r, extra=', "chain_id": 2'),
        "truncated": valid[:len(valid) // 2],
        "not-object": b"[1, 2, 3]",
        "embedded-nul": valid[:10] + b"\x00" + valid[10:],
        "empty": b"",
    }


def config_seeds():
    every = (b"; every key\n[node]\ndata_dir = /var/lib/settled\nlog_level = debug\n"
             b"block_interval_ms = 250\nengine_threads = 4\nmap_size_mb = 64\ntx_index = 0\n\n"
             b"[rpc]\naddress = 0.0.0.0\nport = 18645\nuser = alice\npassword = s3cret=x\n"
             b"max_body_bytes = 2048\nmax_header_bytes = 1024\nmax_connections = 8\n"
             b"idle_timeout_ms = 500\n# mempool\n[mempool]\nmax_txs = 10\nmax_bytes = 4096\n")
    return {
        "every-key": every,
        "defaults-style": (b"# settled configuration.\n\n[node]\n# store directory\ndata_dir = data\n"
                           b"log_level = info\n\n[rpc]\naddress = 127.0.0.1\nport = 8645\n"
                           b"user = \npassword = \n\n[mempool]\nmax_txs = 100000\n"),
        "unknown-section": b"[node]\nlog_level = info\n[bogus]\nx = 1\n",
        "unknown-key": b"[rpc]\nprot = 1\n",
        "bad-number": b"[rpc]\nport = 80x\n",
        "out-of-range": b"[rpc]\nport = 65536\n[mempool]\nmax_bytes = 99999999999999999999\n",
        "bad-log-level": b"[node]\nlog_level = loud\n",
        "long-line": b"[node]\ndata_dir = " + b"d" * 300 + b"\nlog_level = info\n",
        "long-string": b"[rpc]\naddress = " + b"a" * 64 + b"\n",
        "syntax": b"[node\nlog_level\n",
        "multiline-crlf": b"[rpc]\r\nport = 1\r\n  continued\r\n",
        "bom-inline-comment": b"\xef\xbb\xbf[rpc]\nport = 9 ; nine\n",
        "split-parse": b"rpc\x00port\x008645",
        "split-loglevel": b"node\x00log_level\x00TRACE",
        "split-unknown": b"p2p\x00port\x001",
        "override": b"rpc.port=18645",
        "override-no-dot": b"port=1",
        "override-equals-in-value": b"rpc.password=a=b.c",
        "empty": b"",
    }


def http_seeds():
    body = b'{"jsonrpc":"2.0","id":1,"result":{"height":12}}'
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
               b"%x\r\n" % 10 + body[:10] + b"\r\n" + b"%x\r\n" % (len(body) - 10) + body[10:] +
               b"\r\n0\r\n\r\n")
    return {
        "ok": ok,
        "chunked": chunked,
        "until-close": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body,
        "unauthorized": (b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="settled"\r\n'
                         b"Content-Length: 0\r\n\r\n"),
        "rpc-error": (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" +
                      b'{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"bad nonce","data":{"error":"bad_nonce"}}}'[:99]),
        "no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
        "truncated-body": ok[:-5],
        "truncated-head": ok[:20],
        "bad-status-line": b"HTTP/1.1 2x0 OK\r\n\r\n",
        "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "not-http": b"SSH-2.0-OpenSSH_9.2\r\n",
        "empty": b"",
    }


def json_seeds():
    """Request bodies, and the corners where YAJL's rules and jansson's differ (escapes,
    surrogates, \\v and \\f, leading zeros, big numbers, duplicates, depth, top-level
    scalars, bad UTF-8)."""
    tx = "00" * 150
    texts = [
        '{"jsonrpc":"2.0","id":1,"method":"submit_tx","params":["%s"]}' % tx,
        '[{"jsonrpc":"2.0","id":1,"method":"status"},{"jsonrpc":"2.0","id":"x","method":"get_block","params":[3,true]}]',
        '{"jsonrpc":"2.0","id":null,"method":"get_team","params":{"address":"ab"}}',
        ' { "a" : [ 1 , -0 , 0.5 , -1.5e3 , 1E-400 , true , false , null , "" ] } \n',
        '{"a":1,"a":2}', '{"a":{"b":1,"b":1}}', '{"\\u0061":1,"a":2}',
        '["\\ud800"]', '["\\ud800\\u0041"]', '["\\udc00"]', '["\\ud83d\\ude00"]', '["\\u0000"]',
        '[1\v]', '[\f1]', '["a\tb"]', '[01]', '[-01]', '[1.]', '[.5]', '[+1]', '[1e]', '[-]',
        '[9223372036854775807]', '[9223372036854775808]', '[-9223372036854775808]', '[-9223372036854775809]',
        '[1e308]', '[1e309]', '[-1e309]', '[123456789012345678901234567890123456789012345678901234567890.5]',
        '1', '"x"', 'null', '', ' ', '[]', '{}', '[] []', '[]x', '[1,]', '{"a":1,}', '{"a"}', '{1:2}',
        '[' * 64 + ']' * 64, '[' * 65 + ']' * 65, '[' * 3000 + ']' * 3000, '/* c */ []', '[1] // c',
    ]
    out = [t.encode() for t in texts]
    out += [b'["\xff"]', b'["\xc0\x80"]', b'["\xed\xa0\x80"]', b'["\xf4\x90\x80\x80"]', b'["\xe2\x82"]',
            b'{"\xc3\xa9":1}', b'{"\xc0\xaf":1}', b'["\xef\xbb\xbf"]', b'\xef\xbb\xbf[]', b'[1\x00]', b'["\x00"]']
    return {"%02d" % i: t for i, t in enumerate(out)}


def http_server_seeds():
    """Client bytes for the RPC server: the fuzz target's handler answers a body starting
    with 'L' a loop turn later and echoes the others."""
    auth = b"Authorization: Basic dTpw\r\n"  # u:p

    def post(body, extra=b""):
        return (b"POST / HTTP/1.1\r\nHost: x\r\n" + auth + extra +
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return {
        "one": post(b'{"jsonrpc":"2.0","id":1,"method":"status"}'),
        "pipelined-later-first": post(b"Later") + post(b"now") + post(b"Later again") + post(b"now again"),
        "health": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post(b"x"),
        "no-auth": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" + post(b"y"),
        "close-then-more": post(b"Later", b"Connection: close\r\n") + post(b"ignored"),
        "malformed-after": post(b"Later") + b"BAD LINE\r\n\r\n" + post(b"never"),
        "chunked": (b"POST / HTTP/1.1\r\nHost: x\r\n" + auth + b"Transfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nLater\r\n0\r\n\r\n" + post(b"z")),
        "body-too-large": b"POST / HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Length: 99999\r\n\r\n",
        "half": post(b"Later") + post(b"cut short")[:40],
        "http10": b"POST / HTTP/1.0\r\n" + auth + b"Content-Length: 1\r\n\r\nL",
        "empty": b"",
    }


if __name__ == "__main__":
    main()
