#!/usr/bin/env python3
"""tests/fuzz/make_consensus_corpus.py — seed corpora for the consensus fuzz targets.

    python3 tests/fuzz/make_consensus_corpus.py   # (re)writes corpus/fuzz_consensus_*/seed-*

An encoder written from docs/consensus.md alone (independent of consensus/*.c), signing with
Ed25519 keys from the seeds 1..4 that fuzz_consensus_commit's validator set uses, so valid
seeds verify. Valid seeds plus near misses (truncated, trailing byte, bad version or type,
non-canonical flags, unsorted or duplicate signers, a count over the maximum).
"""
import hashlib
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
CHAIN = 7


def tagged_hash(tag, data):
    return hashlib.blake2b(data, digest_size=32, person=tag.encode().ljust(16, b"\0")).digest()


def key(i):
    sk = Ed25519PrivateKey.from_private_bytes(bytes([i]) + bytes(31))
    pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sk, pk


def block(x):
    return tagged_hash("test/block", struct.pack("<Q", x))


def proposal(i, height, rnd, pol, blk):
    sk, pk = key(i)
    body = struct.pack("<BIQII", 1, CHAIN, height, rnd, pol) + blk + pk
    return body + sk.sign(tagged_hash("settled/proposal", body))


def vote(i, typ, height, rnd, blk):
    sk, pk = key(i)
    body = struct.pack("<BBIQIB", 1, typ, CHAIN, height, rnd, 1 if blk else 0) + (blk or bytes(32)) + pk
    return body + sk.sign(tagged_hash("settled/vote", body))


def commit(signers, height, rnd, blk):
    sigs = sorted((key(i)[1], vote(i, 2, height, rnd, blk)[-64:]) for i in signers)
    out = struct.pack("<BQI", 2, height, rnd) + blk + struct.pack("<H", len(sigs))
    return out + b"".join(k + s for k, s in sigs)


def sign_state(height, rnd, step, value):
    return struct.pack("<BQIBB", 1, height, rnd, step, 1 if value else 0) + (value or bytes(32))


def write(name, seeds):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for label, data in seeds:
        with open(os.path.join(d, "seed-" + label), "wb") as f:
            f.write(data)


def main():
    b = block(1)
    p = proposal(1, 5, 0, 0xFFFFFFFF, b)
    write("fuzz_consensus_proposal", [
        ("valid", p),
        ("valid-pol", proposal(2, 9, 3, 1, block(2))),
        ("truncated", p[:-1]),
        ("trailing", p + b"\0"),
        ("version2", b"\x02" + p[1:]),
        ("empty", b""),
    ])
    v = vote(1, 1, 5, 0, b)
    nil = vote(2, 2, 5, 1, None)
    ss = sign_state(5, 2, 3, b)
    write("fuzz_consensus_vote", [
        ("prevote", v),
        ("precommit-nil", nil),
        ("truncated", v[:100]),
        ("trailing", v + b"\0"),
        ("type3", v[:1] + b"\x03" + v[2:]),
        ("flag2", v[:18] + b"\x02" + v[19:]),
        ("nil-with-hash", nil[:19] + b"\x01" + nil[20:]),
        ("signstate", ss),
        ("signstate-nil", sign_state(5, 2, 2, None)),
        ("signstate-step0", ss[:13] + b"\x00" + ss[14:]),
    ])
    c = commit([1, 2, 3, 4], 5, 0, b)
    c2 = commit([3, 4], 6, 1, block(3))
    unsorted = c[:47] + c[47 + 96:47 + 192] + c[47:47 + 96] + c[47 + 192:]
    write("fuzz_consensus_commit", [
        ("all", c),
        ("two", c2),
        ("empty-count", struct.pack("<BQI", 2, 1, 0) + b + b"\0\0"),
        ("unsorted", unsorted),
        ("duplicate", c[:47 + 96] + c[47:47 + 96] + c[47 + 192:]),
        ("too-many", c[:45] + struct.pack("<H", 129)),
        ("truncated", c[:-1]),
        ("trailing", c + b"\0"),
        ("version1", b"\x01" + c[1:]),
    ])


if __name__ == "__main__":
    main()
