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
    }
    write("fuzz_storage_account", accounts)

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


if __name__ == "__main__":
    main()
