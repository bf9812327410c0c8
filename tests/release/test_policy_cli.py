"""A workspace may only tighten the disclosure policy: the steward's check
and the kernel both refuse a looser one, with the rule named."""
import os
import re

import workspace_fixture as wf


def test_looser_policy_is_refused_by_check_and_kernel(demo):
    ws = wf.fresh_workspace(demo)
    env = {"ENCLAVE_HOME": os.path.join(demo, "home")}
    res = wf.enclave("workspace", "check", ws, "demo", env=env)
    assert "access granted" in res.stdout and "≤20" in res.stdout
    with open(os.path.join(ws, "policy.yaml"), "w") as f:
        f.write("min_count: 10\n")
    res = wf.enclave("workspace", "check", ws, "demo", env=env, check=False)
    assert res.returncode != 0 and "min_count 10 is looser than the default 21" in res.stderr, res.stderr
    k = wf.Kernel(demo, ws)
    try:
        r, msgs = k.run('import "fmt"\nfmt.Println(1)')
        assert r["status"] == "error" and r["ename"] == "WorkspaceRefused" and "min_count" in r["evalue"]
    finally:
        k.close()


def test_stricter_policy_applies(demo):
    ws = wf.fresh_workspace(demo)
    with open(os.path.join(ws, "policy.yaml"), "w") as f:
        f.write("min_count: 100\nrounding: 5\n")
    k = wf.Kernel(demo, ws)
    try:
        r, msgs = k.run('import ("enclave/omop"; "enclave/stats")\nstats.Count(omop.Persons(), "race", "gender")')
        assert r["status"] == "ok"
        plain = wf.plain_of(msgs)
        assert "≤99" in plain
        counts = [int(c.replace(",", "")) for c in re.findall(r"(?<![≤\d])\b(\d[\d,]*)\b", plain.split("\n", 3)[3].split("Notes")[0])]
        assert counts and all(c % 5 == 0 for c in counts), plain
        r, msgs = k.run("%policy")
        assert "1–99 persons shown as ≤99" in wf.plain_of(msgs)
    finally:
        k.close()
