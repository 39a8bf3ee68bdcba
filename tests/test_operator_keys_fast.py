"""The operator keys' fast path (operators/keys.py: BIP-39 and BIP-32 with the standard library and
eth_keys, each key derived once per process) gives eth_account's answers, falls back to
eth_account for anything else, and keeps eth_account's import (about a second) off the program's
way; the accounts component makes its keystores beside the event loop, not on it."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading

import pytest
from eth_account import Account
from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

from operators import accounts
from operators.errors import OperatorKeyError
from operators.keys import KeystoreParams, OperatorClient, _english_seed, derive_key, mnemonic_seed

Account.enable_unaudited_hdwallet_features()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("words", [12, 15, 18, 21, 24])
def test_seeds_and_keys_are_eth_accounts(words):
    rng = random.Random(words)
    for _ in range(10):
        mnemonic = Account.create_with_mnemonic(num_words=words)[1]
        seed = mnemonic_seed(mnemonic)
        assert _english_seed(mnemonic) is not None  # the fast path, not the fallback
        assert seed == seed_from_mnemonic(mnemonic, "")
        for path in ("m/44'/60'/0'/0/0", "m/44'/60'/1'/0/0", f"m/44'/60'/0'/0/{rng.randrange(2**31)}", "m/0/1'/2"):
            assert derive_key(seed, path) == key_from_seed(seed, path), path


def test_anything_else_goes_to_eth_account():
    mnemonic = Account.create_with_mnemonic()[1]
    words = mnemonic.split()
    # Words abbreviated to their first four letters: eth_account expands them, the fast path does not.
    abbreviated = " ".join(w[:4] for w in words)
    assert _english_seed(abbreviated) is None
    try:
        expected = seed_from_mnemonic(abbreviated, "")
    except Exception:
        with pytest.raises(OperatorKeyError):
            mnemonic_seed(abbreviated)
    else:
        assert mnemonic_seed(abbreviated) == expected
    # A bad checksum: refused, without the words in the message.
    bad = " ".join(words[:-1] + [next(w for w in ("abandon", "zoo", "about") if w != words[-1])])
    if _english_seed(bad) is None:
        with pytest.raises(OperatorKeyError) as e:
            mnemonic_seed(bad)
        assert words[0] not in str(e.value)
    # Extra whitespace is the same mnemonic.
    assert mnemonic_seed("  " + "   ".join(words) + "\n") == mnemonic_seed(mnemonic)


def test_deriving_the_keys_does_not_import_eth_account():
    mnemonic = Account.create_with_mnemonic()[1]
    code = (
        "import sys, json\n"
        "from operators.accounts import derive_keys\n"
        "from operators.keys import OperatorClient\n"
        "d = derive_keys(sys.stdin.read(), [OperatorClient('a', 0), OperatorClient('b', 7)], {}, True)\n"
        "print(json.dumps({'eth_account': 'eth_account' in sys.modules, 'a': d['keys']['a'].address}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], input=mnemonic, capture_output=True, text=True, cwd=ROOT, check=True)
    out = json.loads(proc.stdout)
    assert out == {"eth_account": False, "a": Account.from_mnemonic(mnemonic, account_path="m/44'/60'/0'/0/0").address}


def test_keystores_are_made_in_their_pool_while_the_loop_runs():
    mnemonic = Account.create_with_mnemonic()[1]
    clients = [OperatorClient(f"c{i}", i) for i in range(4)]
    params = KeystoreParams("scrypt", 1024)
    derived = accounts.derive_keys(mnemonic, clients, {}, False)
    threads: set = set()
    real = accounts.keystore_json

    def spy(*args):
        threads.add(threading.current_thread().name)
        return real(*args)

    async def main():
        ticks = 0
        futures = [accounts._keystore_later(derived, c.name, params) for c in clients]
        while not all(f.done() for f in futures):
            ticks += 1
            await asyncio.sleep(0)
        return ticks, [f.result() for f in futures]

    accounts.keystore_json = spy
    loop = asyncio.new_event_loop()  # not asyncio.run: it would leave no current loop for the Pulumi tests after
    try:
        ticks, made = loop.run_until_complete(main())
    finally:
        accounts.keystore_json = real
        loop.close()
    assert ticks > 0 and threads and all(t.startswith("keystore") for t in threads)
    material = accounts.derive_material(mnemonic, clients, {}, params, False)
    assert made == [material["clients"][c.name]["keyfile_json"] for c in clients]
