#!/usr/bin/env python3
"""tests/fuzz/make_net_corpus.py — writes the seed corpora of the net fuzz targets.

    python3 tests/fuzz/make_net_corpus.py   # (re)writes tests/fuzz/corpus/fuzz_net_*/seed-*

Deterministic. Hellos carry real X25519 ephemeral keys and Ed25519 node keys from fixed
seeds; frames are really sealed (ChaCha20-Poly1305-IETF, or AES-256-GCM for the seeds named
aes-*; docs/p2p.md) with the fuzz key 0x42 x 32 at counter 0, which fuzz_net_frame.c opens
them with. Invalid seeds are near misses (truncations, trailing bytes, bad
magic/version/lengths). Needs python3-cryptography.
Only files named seed-* are written; inputs the fuzzer found and someone committed stay.
"""
import os
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def ed_pub(seed_byte):
    return Ed25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32).public_key().public_bytes(*RAW)


def x_pub(seed_byte):
    return X25519PrivateKey.from_private_bytes(bytes([seed_byte]) * 32).public_key().public_bytes(*RAW)


CIPHER_AES256GCM = 0x01


def hello(eph, node, chain, version, port, ua, ciphers=0, hs_version=2, magic=b"SETL", body_len=None):
    body = bytes([hs_version]) + eph + node + struct.pack("<IHHBB", chain, version, port, ciphers, len(ua)) + ua
    n = len(body) if body_len is None else body_len
    return magic + struct.pack("<H", n) + body


def seal(type_, payload, ctr=0, key=b"\x42" * 32, aes=False):
    plain = struct.pack("<H", type_) + payload
    hdr = struct.pack("<BI", 1, len(plain) + 16)
    nonce = struct.pack("<Q", ctr) + b"\0" * 4
    aead = AESGCM(key) if aes else ChaCha20Poly1305(key)
    return hdr + aead.encrypt(nonce, plain, hdr)


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    for i, (label, data) in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d-%s" % (i, label)), "wb") as f:
            f.write(data)


def main():
    good = hello(x_pub(1), ed_pub(2), 7, 1, 26656, b"settled", ciphers=CIPHER_AES256GCM)
    hs = [
        ("hello", good),
        ("hello-no-ua", hello(x_pub(3), ed_pub(4), 7, 1, 0, b"")),
        ("hello-max-ua", hello(x_pub(5), ed_pub(6), 0xFFFFFFFF, 0xFFFF, 0xFFFF, b"u" * 64, ciphers=0xFF)),
        ("hello-other-chain", hello(x_pub(1), ed_pub(2), 8, 1, 1, b"x")),
        ("hello-zero-eph", hello(b"\0" * 32, ed_pub(2), 7, 1, 1, b"low order")),
        ("hello-truncated", good[:-1]),
        ("hello-trailing", good + b"\0"),
        ("hello-bad-magic", b"GET " + good[4:]),
        ("hello-bad-version", hello(x_pub(1), ed_pub(2), 7, 1, 1, b"a", hs_version=3)),
        ("hello-len-too-big", b"SETL\xff\xff"),
        ("hello-len-mismatch", hello(x_pub(1), ed_pub(2), 7, 1, 1, b"ab", body_len=76)),
        ("hello-ua-too-long", hello(x_pub(1), ed_pub(2), 7, 1, 1, b"u" * 65)),
        ("hello-ua-control", hello(x_pub(1), ed_pub(2), 7, 1, 1, b"a\nb")),
        ("auth", Ed25519PrivateKey.from_private_bytes(b"\x02" * 32).sign(b"settled/p2p/auth/v1I" + b"\0" * 32)),
        ("auth-short", b"\x01" * 63),
        ("hello-v1", b"SETL" + struct.pack("<H", 74) + bytes([1]) + x_pub(1) + ed_pub(2)
         + struct.pack("<IHHB", 7, 1, 1, 0)),
        ("hello-chacha-only", hello(x_pub(7), ed_pub(8), 7, 1, 1, b"c", ciphers=0)),
        ("hello-reserved-ciphers", hello(x_pub(7), ed_pub(8), 7, 1, 1, b"r", ciphers=0xFE)),
    ]
    frame = [
        ("ping", seal(1, struct.pack("<Q", 0x1122334455667788))),
        ("pong", seal(2, struct.pack("<Q", 7))),
        ("tx", seal(3, bytes(range(200)))),
        ("auth", seal(0, b"\x55" * 64)),
        ("unknown-type", seal(99, b"abc")),
        ("empty-payload", seal(1, b"")),
        ("ping-short", seal(1, b"\0" * 7)),
        ("ctr1", seal(1, b"\0" * 8, ctr=1)),
        ("tampered", bytes([b ^ (1 if i == 9 else 0) for i, b in enumerate(seal(1, b"\0" * 8))])),
        ("header-only", seal(1, b"\0" * 8)[:5]),
        ("truncated", seal(3, b"t" * 40)[:-1]),
        ("trailing", seal(3, b"t" * 40) + b"\0"),
        ("bad-version", b"\x02" + seal(1, b"\0" * 8)[1:]),
        ("too-big", struct.pack("<BI", 1, 0xFFFFFFFF)),
        ("too-small", struct.pack("<BI", 1, 17) + b"\0" * 17),
        ("aes-ping", seal(1, struct.pack("<Q", 0x1122334455667788), aes=True)),
        ("aes-tx", seal(3, bytes(range(200)), aes=True)),
        ("aes-auth", seal(0, b"\x55" * 64, aes=True)),
        ("aes-empty-payload", seal(1, b"", aes=True)),
        ("aes-ctr1", seal(1, b"\0" * 8, ctr=1, aes=True)),
        ("aes-tampered", bytes([b ^ (1 if i == 9 else 0) for i, b in enumerate(seal(1, b"\0" * 8, aes=True))])),
    ]
    msg = [
        ("ping", struct.pack("<HQ", 1, 42)),
        ("pong", struct.pack("<HQ", 2, 2**64 - 1)),
        ("tx", struct.pack("<H", 3) + bytes(range(256)) * 2),
        ("tx-one", struct.pack("<H", 3) + b"\x01"),
        ("tx-empty", struct.pack("<H", 3)),
        ("tx-max", struct.pack("<H", 3) + b"\xab" * 65536),
        ("tx-over", struct.pack("<H", 3) + b"\xab" * 65537),
        ("ping-short", struct.pack("<H", 1) + b"\0" * 7),
        ("ping-long", struct.pack("<H", 1) + b"\0" * 9),
        ("auth-type", struct.pack("<H", 0) + b"\0" * 64),
        ("unknown", struct.pack("<H", 0xFFFF) + b"x"),
        ("get-peers", struct.pack("<H", 4)),
        ("get-peers-trailing", struct.pack("<H", 4) + b"\0"),
        ("peers-empty", struct.pack("<HB", 5, 0)),
        ("peers-v4-v6", struct.pack("<HB", 5, 2) + b"\xaa" * 32 + b"\x04\x7f\0\0\x01" + struct.pack("<H", 8646)
         + b"\xbb" * 32 + b"\x06" + b"\0" * 15 + b"\x01" + struct.pack("<H", 65535)),
        ("peers-max", struct.pack("<HB", 5, 32) + (b"\xcc" * 32 + b"\x06" + b"\x20" * 16 + b"\x01\0") * 32),
        ("peers-too-many", struct.pack("<HB", 5, 33)),
        ("peers-bad-family", struct.pack("<HB", 5, 1) + b"\xaa" * 32 + b"\x05\x7f\0\0\x01\x01\0"),
        ("peers-port-zero", struct.pack("<HB", 5, 1) + b"\xaa" * 32 + b"\x04\x7f\0\0\x01\0\0"),
        ("peers-truncated", struct.pack("<HB", 5, 1) + b"\xaa" * 32 + b"\x04\x7f\0"),
    ]
    write("fuzz_net_handshake", hs)
    write("fuzz_net_frame", frame)
    write("fuzz_net_message", msg)


if __name__ == "__main__":
    main()
