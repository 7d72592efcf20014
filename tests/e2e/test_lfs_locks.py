"""Git LFS file locking with the real clients: `git lfs lock / locks /
unlock` and `git lfs push` (git 2.47, git-lfs 3.3) against the locking API,
credentials coming from a git credential helper (git-lfs asks for them after
the server's 401 with its Basic challenge).

bob owns the repos where two users meet; alice is a server admin, so she
may write there too, and break locks with --force.
"""

import re

from lfs_helpers import WorkTree, batch, create_repo, git_home, http, lfs_url, oid_of, random_bytes

FILES = {"a.bin": random_bytes(40_000, 1), "b.bin": random_bytes(30_000, 2), "notes.txt": b"plain text\n"}


def work_tree(server, home, tmp_path, name, repo, user, token=None):
    tree = WorkTree(server, home, tmp_path / name, repo, user, token)
    tree.track("*.bin")
    tree.commit_files(FILES, "initial")
    return tree


def lock_ids(tree, *args):
    """`git lfs locks` as {path: (owner, id)}, and the raw lines."""
    out = tree.git("lfs", "locks", *args).stdout
    locks = {}
    for line in out.splitlines():
        match = re.match(r"^(?:O )?\s*(\S+)\s+(\S+)\s+ID:(\S+)$", line.strip() if not line.startswith("O ") else line)
        if match:
            locks[match.group(1)] = (match.group(2), match.group(3))
    return locks, out


def test_lock_list_unlock_between_two_users(server, tmp_path):
    repo = "bob/e2e-locks"
    create_repo(server, "bob", "e2e-locks")
    home = git_home(tmp_path)
    bob = work_tree(server, home, tmp_path, "bob", repo, "bob")
    alice = work_tree(server, home, tmp_path, "alice", repo, "alice")

    # bob locks a.bin; everyone sees it.
    assert "Locked a.bin" in bob.git("lfs", "lock", "a.bin").stdout
    locks, out = lock_ids(alice)
    assert locks.get("a.bin", ("", ""))[0] == "bob", out
    a_id = locks["a.bin"][1]

    # alice cannot take it, but can lock another path.
    taken = alice.git("lfs", "lock", "a.bin", check=False)
    assert taken.returncode != 0 and "already locked by bob" in taken.stderr, taken.stderr
    assert "Locked b.bin" in alice.git("lfs", "lock", "b.bin").stdout

    # verify marks our locks with O.
    out = bob.git("lfs", "locks", "--verify").stdout
    assert re.search(r"^O a\.bin\s+bob\s+ID:", out, re.M), out
    assert re.search(r"^\s+b\.bin\s+alice\s+ID:", out, re.M), out

    # bob cannot unlock alice's lock without force, though the repo is his...
    refused = bob.git("lfs", "unlock", "b.bin", check=False)
    assert refused.returncode != 0, refused.stdout
    assert "locked by alice" in refused.stderr, refused.stderr
    assert "b.bin" in lock_ids(bob)[0], "the lock survived"
    # ...and breaks it with force, as the repo's owner.
    assert "Unlocked b.bin" in bob.git("lfs", "unlock", "--force", "b.bin").stdout

    # alice neither unlocks bob's lock without force; as an admin she may force it.
    refused = alice.git("lfs", "unlock", "--id", a_id, check=False)
    assert refused.returncode != 0 and "locked by bob" in refused.stderr, refused.stderr
    assert "Unlocked" in alice.git("lfs", "unlock", "--force", "--id", a_id).stdout

    locks, out = lock_ids(bob)
    assert locks == {}, out
    reply = http(f"{lfs_url(server, repo)}/locks")
    assert reply.status == 200 and reply.json() == {"locks": []}, reply


def test_readers_and_anonymous_callers_cannot_lock(server, tmp_path):
    create_repo(server, "alice", "e2e-locks-ro")
    create_repo(server, "alice", "e2e-locks-private", private=True)
    home = git_home(tmp_path)
    owner = work_tree(server, home, tmp_path, "alice", "alice/e2e-locks-ro", "alice")
    assert "Locked a.bin" in owner.git("lfs", "lock", "a.bin").stdout

    # bob reads alice's public repo: he lists her locks and may not lock.
    bob = work_tree(server, home, tmp_path, "bob", "alice/e2e-locks-ro", "bob")
    assert "a.bin" in lock_ids(bob)[0]
    refused = bob.git("lfs", "lock", "b.bin", check=False)
    assert refused.returncode != 0 and "write access" in refused.stderr, refused.stderr
    refused = bob.git("lfs", "locks", "--verify", check=False)
    assert refused.returncode != 0, refused.stdout
    # Nor may a read token of alice's.
    reader = work_tree(server, home, tmp_path, "reader", "alice/e2e-locks-ro", "alice", server.create_token("alice", "read"))
    refused = reader.git("lfs", "lock", "b.bin", check=False)
    assert refused.returncode != 0 and "read access only" in refused.stderr, refused.stderr
    # Without credentials: public locks are listed; a lock attempt is
    # answered 401, git-lfs asks the credential helpers and has none. (It
    # then records `lfs.<url>.access = basic` in the repo's config and asks
    # for credentials before every later request, reads included.)
    anonymous = work_tree(server, home, tmp_path, "anonymous", "alice/e2e-locks-ro", None)
    assert "a.bin" in lock_ids(anonymous)[0], "public locks are listed anonymously"
    refused = anonymous.git("lfs", "lock", "b.bin", check=False)
    assert refused.returncode != 0 and "credentials" in refused.stderr, refused.stderr
    assert anonymous.git("config", f"lfs.{lfs_url(server, 'alice/e2e-locks-ro')}.access").stdout.strip() == "basic"

    # At the HTTP level: 401 with a Basic challenge for anonymous writers and
    # for anyone on a private repo; Basic auth with the token as password works.
    url = f"{lfs_url(server, 'alice/e2e-locks-ro')}/locks"
    reply = http(url, "POST", body={"path": "c.bin"})
    assert reply.status == 401 and reply.headers.get("www-authenticate") == 'Basic realm="Tessera"', reply
    assert reply.headers.get("content-type") == "application/vnd.git-lfs+json", reply.headers
    private = f"{lfs_url(server, 'alice/e2e-locks-private')}/locks"
    reply = http(private)
    assert reply.status == 401 and reply.headers.get("www-authenticate") == 'Basic realm="Tessera"', reply
    assert http(private, basic=("bob", server.token("bob"))).status == 404
    reply = http(private, "POST", basic=("alice", server.token("alice")), body={"path": "c.bin"})
    assert reply.status == 201 and reply.json()["lock"]["owner"] == {"name": "alice"}, reply
    reply = http(private, "POST", basic=("alice", server.token("alice")), body={"path": "c.bin"})
    assert reply.status == 409 and reply.json()["lock"]["path"] == "c.bin" and reply.json()["message"], reply


def test_push_verifies_locks_without_warnings(server, tmp_path):
    repo = "bob/e2e-lock-push"
    create_repo(server, "bob", "e2e-lock-push", private=True)
    home = git_home(tmp_path)
    bob = work_tree(server, home, tmp_path, "bob", repo, "bob")

    def pushed(tree, check=True):
        result = tree.git("lfs", "push", "origin", "main", check=check)
        output = result.stdout + result.stderr
        for warning in ("does not support", "WARNING", "Authentication error", "error"):
            if check:
                assert warning not in output, f"{warning!r} in the push output:\n{output}"
        return result, output

    # First push: the locking API answers; git-lfs 3.3 only suggests turning
    # lock verification on (its hint when lfs.<url>.locksverify is unset).
    _, output = pushed(bob)
    assert "Locking support detected" in output, output
    for name in ("a.bin", "b.bin"):
        data = FILES[name]
        href = batch(server, repo, "download", [(oid_of(data), len(data))], token=server.token("bob")).json()
        got = http(href["objects"][0]["actions"]["download"]["href"])
        assert got.status == 200 and got.body == data, f"{name} after git lfs push: {got.status}"

    # With verification on, a push says nothing about locks...
    bob.git("config", f"lfs.{lfs_url(server, repo)}.locksverify", "true")
    bob.commit_files({"a.bin": random_bytes(50_000, 3)}, "bob changes a.bin")
    _, output = pushed(bob)
    assert "lock" not in output.lower(), output

    # ...until someone else holds a lock on a file it changes: then it halts.
    reply = http(f"{lfs_url(server, repo)}/locks", "POST", token=server.token("alice"), body={"path": "b.bin"})
    assert reply.status == 201, reply
    lock_id = reply.json()["lock"]["id"]
    changed = random_bytes(60_000, 4)
    bob.commit_files({"b.bin": changed}, "bob changes b.bin")
    result, output = pushed(bob, check=False)
    assert result.returncode != 0, output
    assert "Unable to push locked files" in output and "b.bin - alice" in output, output
    assert batch(server, repo, "download", [(oid_of(changed), len(changed))], token=server.token("bob")).json()[
        "objects"][0]["error"]["code"] == 404, "nothing was uploaded"

    # Once alice unlocks, the push goes through.
    reply = http(f"{lfs_url(server, repo)}/locks/{lock_id}/unlock", "POST", token=server.token("alice"), body={})
    assert reply.status == 200, reply
    _, output = pushed(bob)
    assert "lock" not in output.lower(), output
    href = batch(server, repo, "download", [(oid_of(changed), len(changed))], token=server.token("bob")).json()
    assert http(href["objects"][0]["actions"]["download"]["href"]).body == changed
