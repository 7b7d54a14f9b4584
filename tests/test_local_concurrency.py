"""State lives in SQLite: it persists across processes and survives many writers at once."""

import subprocess
import sys
import textwrap

import pytest
from conftest import DEV

WORKER = textwrap.dedent("""
    import random, sys
    from cogid.local import client, mint_social_token
    home, pool, seed, users = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cognito = client("cognito-identity", home=home)
    order = list(range(users))
    random.Random(seed).shuffle(order)
    for n in order:
        logins = {"DEV_NAME": f"user{n}"}
        if n % 2:  # half the users also link a Facebook login, racing the other processes
            logins["graph.facebook.com"] = mint_social_token("graph.facebook.com", f"fb{n}", "1234567890", home=home)
        print(n, cognito.get_open_id_token_for_developer_identity(IdentityPoolId=pool, Logins=logins)["IdentityId"])
""").replace("DEV_NAME", DEV)


def run(*args):
    return subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, check=True).stdout


def test_identity_persists_across_processes(isolated, tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from cogid.local import client
        c = client("cognito-identity", home=sys.argv[1])
        if sys.argv[2] == "create":
            pool = c.create_identity_pool(IdentityPoolName="p", AllowUnauthenticatedIdentities=False,
                                          DeveloperProviderName="{DEV}")["IdentityPoolId"]
            print(pool, c.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool, Logins={{"{DEV}": "alice"}})["IdentityId"])
        else:
            print(c.lookup_developer_identity(IdentityPoolId=sys.argv[3], DeveloperUserIdentifier="alice")["IdentityId"])
    """)
    pool, identity = run(script, str(isolated), "create").split()
    assert run(script, str(isolated), "lookup", pool).strip() == identity
    assert (isolated / "local.sqlite3").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("door", ["inprocess"], indirect=True)  # processes of its own on its store
def test_concurrent_processes_never_split_an_identity_or_lose_a_link(isolated, cognito, social):
    pool = cognito.create_identity_pool(
        IdentityPoolName="race", AllowUnauthenticatedIdentities=False, DeveloperProviderName=DEV,
        SupportedLoginProviders={"graph.facebook.com": "1234567890"})["IdentityPoolId"]
    users = 240
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(isolated), pool, str(seed), str(users)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(4)]
    answers = {}
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err
        for line in out.splitlines():
            n, identity = line.split()
            answers.setdefault(int(n), set()).add(identity)
    # Every process got the same identity for a user, and the store agrees.
    assert len(answers) == users and all(len(ids) == 1 for ids in answers.values())
    for n in range(users):
        (identity,) = answers[n]
        assert cognito.lookup_developer_identity(IdentityPoolId=pool, DeveloperUserIdentifier=f"user{n}")[
            "IdentityId"] == identity
        if n % 2:
            assert cognito.get_id(IdentityPoolId=pool, Logins={"graph.facebook.com": social(f"fb{n}")})[
                "IdentityId"] == identity
    listed = {i["IdentityId"]: sorted(i["Logins"]) for page in iter_identities(cognito, pool) for i in page}
    expected = {next(iter(answers[n])): sorted([DEV, "graph.facebook.com"] if n % 2 else [DEV]) for n in range(users)}
    assert listed == expected


def iter_identities(cognito, pool):
    token = None
    while True:
        page = cognito.list_identities(IdentityPoolId=pool, MaxResults=60, **({"NextToken": token} if token else {}))
        yield page["Identities"]
        token = page.get("NextToken")
        if not token:
            return


def test_a_checkpoint_follows_every_so_many_commits(tmp_path, monkeypatch):
    """The WAL is copied into the database file by the commit that reaches CHECKPOINT_EVERY,
    long before SQLite's own threshold, and no write is lost to it."""
    from cogid.local.store import Store, core

    monkeypatch.setattr(core, "CHECKPOINT_EVERY", 20)
    store = Store(tmp_path / "s.sqlite3")
    sizes = []
    for n in range(25):
        with store.write():
            store.insert_access_key(f"AKIA{n:016d}", {"AccessKeyId": f"AKIA{n:016d}", "pad": "x" * 3000})
        sizes.append((tmp_path / "s.sqlite3").stat().st_size)
    assert len(set(sizes[:15])) == 1  # the schema's commit and 15 more: nothing copied yet
    assert sizes[-1] > sizes[0]
    store.close()
    assert len(Store(tmp_path / "s.sqlite3").access_keys()) == 25
