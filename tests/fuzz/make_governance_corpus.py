#!/usr/bin/env python3
"""tests/fuzz/make_governance_corpus.py — seed corpora for the governance fuzz targets.

    python3 tests/fuzz/make_governance_corpus.py          # (re)writes corpus/fuzz_governance_*/seed-*
    python3 tests/fuzz/make_governance_corpus.py --kat    # prints the hashes the unit tests pin

An encoder written from docs/governance.md alone, independent of governance/*.c, so the
seeds (and the known answers printed by --kat) cross-check the C code.

fuzz_governance_payload inputs are u8 kind | payload; fuzz_governance_proposal inputs are
whole proposal records. Valid seeds plus near misses (truncated, trailing byte, bad version,
counts over the maximum, unsorted lists, values out of range). Only seed-* files are written.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

CHANGE_VALIDATORS, CHANGE_MEMBERS, SET_PARAM, TREASURY_SPEND = 1, 2, 3, 4
PAUSE, UNPAUSE, SIGNAL_UPGRADE, CANCEL = 5, 6, 7, 8


def tagged_hash(tag, data):
    return hashlib.blake2b(data, digest_size=32, person=tag.encode().ljust(16, b"\0")).digest()


def u8(v):
    return struct.pack("<B", v)


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def key(i):
    """A distinct 32-byte key per i, ascending with i."""
    return bytes([i >> 8 & 0xff, i & 0xff]) + bytes([0x5a]) * 30


# ------------------------------------------------------------------ payloads

def p_validators(vals):
    return u8(1) + u16(len(vals)) + b"".join(k + u64(p) for k, p in vals)


def p_members(track, members):
    return u8(1) + u8(track) + u16(len(members)) + b"".join(k + u32(w) for k, w in members)


def p_param(pid, value):
    return u8(1) + u8(pid) + u64(value)


def p_spend(recipient, amount):
    return u8(1) + recipient + u64(amount)


def p_empty():
    return u8(1)


def p_upgrade(name, height):
    return u8(1) + u8(len(name)) + name + u64(height)


def p_cancel(pid):
    return u8(1) + u64(pid)


def payload_hash(kind, payload):
    return tagged_hash("settled/gov/pay", u8(kind) + payload)


def approval_message(chain_id, proposal_id, phash):
    return tagged_hash("settled/gov/appr", u8(1) + u32(chain_id) + u64(proposal_id) + phash)


# ------------------------------------------------------------------ records

PROPOSED, APPROVED, EXECUTED, CANCELLED = 0, 1, 2, 3


def record(pid, kind, payload, proposer, created, deadline, timelock, state, approved_h, closed_h,
           dev, comm):
    """dev, comm: lists of (key, weight, approved)."""
    out = u8(1) + u64(pid) + u8(kind) + proposer + u64(created) + u64(deadline) + u64(timelock)
    out += u8(state) + u64(approved_h) + u64(closed_h)
    for track in (dev, comm):
        out += u16(len(track)) + b"".join(k + u32(w) + u8(a) for k, w, a in track)
    return out + u16(len(payload)) + payload


def payload_seeds():
    vals = [(key(i), 10 + i) for i in range(1, 4)]
    members = [(key(i), 1) for i in range(1, 8)]
    seeds = {
        "validators-3": (CHANGE_VALIDATORS, p_validators(vals)),
        "validators-1": (CHANGE_VALIDATORS, p_validators([(key(1), 1)])),
        "validators-max": (CHANGE_VALIDATORS, p_validators([(key(i), 1 << 50) for i in range(128)])),
        "validators-unsorted": (CHANGE_VALIDATORS, p_validators(vals[::-1])),
        "validators-dup": (CHANGE_VALIDATORS, p_validators([vals[0], vals[0]])),
        "validators-zero-power": (CHANGE_VALIDATORS, p_validators([(key(1), 0)])),
        "validators-empty": (CHANGE_VALIDATORS, p_validators([])),
        "validators-count-129": (CHANGE_VALIDATORS, u8(1) + u16(129)),
        "members-dev-3": (CHANGE_MEMBERS, p_members(0, members[:3])),
        "members-comm-7": (CHANGE_MEMBERS, p_members(1, [(k, 1 + 999_999 * (i % 2)) for i, (k, _) in enumerate(members)])),
        "members-max": (CHANGE_MEMBERS, p_members(1, [(key(i), 1_000_000) for i in range(256)])),
        "members-bad-track": (CHANGE_MEMBERS, p_members(2, members[:1])),
        "members-weight-over": (CHANGE_MEMBERS, p_members(0, [(key(1), 1_000_001)])),
        "members-count-257": (CHANGE_MEMBERS, u8(1) + u8(0) + u16(257)),
        "param-min-fee": (SET_PARAM, p_param(1, 10)),
        "param-max-block-txs": (SET_PARAM, p_param(2, 65536)),
        "param-max-block-txs-over": (SET_PARAM, p_param(2, 65537)),
        "param-timelock": (SET_PARAM, p_param(3, 100)),
        "param-deadline": (SET_PARAM, p_param(4, 10000)),
        "param-mempool-txs": (SET_PARAM, p_param(5, 100000)),
        "param-mempool-bytes": (SET_PARAM, p_param(6, 1 << 26)),
        "param-unknown": (SET_PARAM, p_param(7, 1)),
        "spend": (TREASURY_SPEND, p_spend(key(9), 1000)),
        "spend-zero": (TREASURY_SPEND, p_spend(key(9), 0)),
        "pause": (PAUSE, p_empty()),
        "unpause": (UNPAUSE, p_empty()),
        "upgrade": (SIGNAL_UPGRADE, p_upgrade(b"v1.2.0-rc.1", 5000)),
        "upgrade-64": (SIGNAL_UPGRADE, p_upgrade(b"a" * 64, 1)),
        "upgrade-upper": (SIGNAL_UPGRADE, p_upgrade(b"V1", 1)),
        "cancel": (CANCEL, p_cancel(7)),
        "cancel-zero": (CANCEL, p_cancel(0)),
    }
    out = {}
    for name, (kind, payload) in seeds.items():
        out[name] = u8(kind) + payload
    # Near misses of a few valid ones.
    out["spend-truncated"] = out["spend"][:-1]
    out["spend-trailing"] = out["spend"] + b"\0"
    out["pause-bad-version"] = u8(PAUSE) + u8(2)
    out["pause-empty-payload"] = u8(PAUSE)
    out["unknown-kind"] = u8(9) + p_empty()
    out["empty"] = b""
    return out


def record_seeds():
    proposer = bytes([0x77]) * 32
    dev = [(key(1), 1, 1), (key(2), 1, 1), (key(3), 1, 0)]
    comm = [(key(10 + i), 1, 1 if i < 5 else 0) for i in range(7)]  # 2/3 + 5/7: 69.04%
    dev_none = [(k, w, 0) for k, w, _ in dev]
    comm_none = [(k, w, 0) for k, w, _ in comm]
    pause = p_empty()
    seeds = {
        "proposed": record(1, PAUSE, pause, proposer, 10, 110, 5, PROPOSED, 0, 0, dev_none, comm_none),
        "approved": record(2, PAUSE, pause, proposer, 10, 110, 5, APPROVED, 20, 0, dev, comm),
        "executed": record(3, PAUSE, pause, proposer, 10, 110, 5, EXECUTED, 20, 25, dev, comm),
        "cancelled-open": record(4, UNPAUSE, pause, proposer, 10, 110, 0, CANCELLED, 0, 50, dev_none, comm_none),
        "cancelled-approved": record(5, PAUSE, pause, proposer, 10, 110, 5, CANCELLED, 20, 30, dev, comm),
        "cancel-kind": record(9, CANCEL, p_cancel(4), proposer, 10, 20, 0, PROPOSED, 0, 0, dev_none, comm_none),
        "spend": record(6, TREASURY_SPEND, p_spend(key(9), 1000), proposer, 0, 1, 1, PROPOSED, 0, 0,
                        dev_none, comm_none),
        "members-payload": record(7, CHANGE_MEMBERS, p_members(1, [(key(i), 2) for i in range(1, 20)]),
                                  proposer, 100, 1000, 10, PROPOSED, 0, 0, dev_none, comm_none),
        "shared-member": record(8, PAUSE, pause, proposer, 10, 110, 5, APPROVED, 11,
                                0, [(key(1), 3, 1)], [(key(1), 1, 1), (key(2), 1, 0)]),
        "max-members": record(10, PAUSE, pause, proposer, 1, 2, 0, PROPOSED, 0, 0,
                              [(key(i), 1_000_000, 0) for i in range(256)],
                              [(key(256 + i), 1_000_000, 1 if i < 10 else 0) for i in range(256)]),
        # near misses
        "shared-member-split": record(17, PAUSE, pause, proposer, 1, 2, 0, PROPOSED, 0, 0,
                                      [(key(1), 1, 0)], [(key(1), 1, 1), (key(2), 5, 0)]),
        "approved-below-threshold": record(11, PAUSE, pause, proposer, 10, 110, 5, APPROVED, 20, 0,
                                           dev_none, comm),
        "proposed-above-threshold": record(12, PAUSE, pause, proposer, 10, 110, 5, PROPOSED, 0, 0, dev, comm),
        "flag-2": record(13, PAUSE, pause, proposer, 10, 110, 5, PROPOSED, 0, 0, [(key(1), 1, 2)], comm_none),
        "executed-in-timelock": record(14, PAUSE, pause, proposer, 10, 110, 5, EXECUTED, 20, 24, dev, comm),
        "deadline-before-created": record(15, PAUSE, pause, proposer, 10, 9, 0, PROPOSED, 0, 0,
                                          dev_none, comm_none),
        "bad-version": b"\x02" + record(16, PAUSE, pause, proposer, 10, 110, 5, PROPOSED, 0, 0,
                                        dev_none, comm_none)[1:],
        "empty": b"",
    }
    seeds["proposed-truncated"] = seeds["proposed"][:-1]
    seeds["proposed-trailing"] = seeds["proposed"] + b"\0"
    return seeds


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)


def kat():
    spend = p_spend(bytes([0x22]) * 32, 1000)
    ph = payload_hash(TREASURY_SPEND, spend)
    print("spend payload     ", spend.hex())
    print("spend payload hash", ph.hex())
    print("pause payload hash", payload_hash(PAUSE, p_empty()).hex())
    print("approval(7, 42, spend hash)", approval_message(7, 42, ph).hex())


if __name__ == "__main__":
    if sys.argv[1:] == ["--kat"]:
        kat()
    else:
        write("fuzz_governance_payload", payload_seeds())
        write("fuzz_governance_proposal", record_seeds())
