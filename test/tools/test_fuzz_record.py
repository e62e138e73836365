"""tools/fuzz-record runs a fuzzer, merges its finds into the kept seeds and
rewrites only its own row of the table; a finding is recorded with its
artifact and makes it exit 1. The fuzzer here is a stand-in script that
prints what libFuzzer prints."""
import os
import subprocess
import sys

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "fuzz-record")

FAKE = r'''
import os, sys
args = sys.argv[1:]
if "-merge=1" in args:
    dirs = [a for a in args if not a.startswith("-")]
    for name in os.listdir(dirs[1]):
        with open(os.path.join(dirs[1], name), "rb") as s, open(os.path.join(dirs[0], name), "wb") as d:
            d.write(s.read())
    sys.exit(0)
work = [a for a in args if not a.startswith("-")][0]
art = [a for a in args if a.startswith("-artifact_prefix=")][0].split("=", 1)[1]
print("INFO: Seed: 1", file=sys.stderr)
print("#2\tINITED cov: 10 ft: 20 corp: 1/1b exec/s: 0 rss: 30Mb", file=sys.stderr)
open(os.path.join(work, "new1"), "wb").write(b"abc")
print("#4096\tpulse  cov: 12 ft: 25 corp: 2/4b lim: 4 exec/s: 2048 rss: 30Mb", file=sys.stderr)
if os.environ.get("FAKE_CRASH"):
    print("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x1", file=sys.stderr)
    print("SUMMARY: AddressSanitizer: heap-use-after-free x.c:1 in f", file=sys.stderr)
    print("artifact_prefix='%s'; Test unit written to %scrash-abc" % (art, art), file=sys.stderr)
    print("stat::number_of_executed_units: 5000", file=sys.stderr)
    sys.exit(1)
print("Done 9000 runs in 2 second(s)", file=sys.stderr)
print("stat::number_of_executed_units: 9000", file=sys.stderr)
print("stat::average_exec_per_sec:     4500", file=sys.stderr)
'''

DOC = """# x
<!-- fuzz-table: rows rewritten by tools/fuzz-record -->
| target | date | seconds | executions | exec/s | cov / ft | kept seeds | findings |
|---|---|---|---|---|---|---|---|
| other | 2026-01-01 | 1 | 2 | 3 | 4 / 5 | 1 files, 1 KiB | none |
| zed | - | - | - | - | - | - | not run yet |
<!-- /fuzz-table -->
after
"""


def run(tmp, env=None):
    (tmp / "fake.py").write_text(FAKE)
    (tmp / "doc.md").write_text(DOC)
    (tmp / "keep").mkdir()
    (tmp / "keep" / "seed").write_bytes(b"s")
    r = subprocess.run(
        [sys.executable, TOOL, "--target", "mine", "--doc", str(tmp / "doc.md"), "--seconds", "5",
         "--runs", "100", "--work", str(tmp / "work"), "--keep", str(tmp / "keep"),
         "--log", str(tmp / "mine.log"), "--", sys.executable, str(tmp / "fake.py")],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {})))
    return r, (tmp / "doc.md").read_text()


def test_a_clean_run_writes_its_row_and_merges(tmp_path):
    r, doc = run(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [l for l in doc.splitlines() if l.startswith("| ") and not l.startswith("| target")]
    assert [l.split("|")[1].strip() for l in rows] == ["mine", "other", "zed"]
    assert "| other | 2026-01-01 | 1 | 2 | 3 | 4 / 5 | 1 files, 1 KiB | none |" in doc
    mine = rows[0]
    assert "| 2 | 9000 | 4500 | 12 / 25 | 2 files, 1 KiB | none |" in mine, mine
    assert sorted(os.listdir(tmp_path / "keep")) == ["new1", "seed"]
    assert doc.endswith("after\n")
    assert "merge" in r.stdout


def test_a_finding_is_recorded_and_fails(tmp_path):
    r, doc = run(tmp_path, {"FAKE_CRASH": "1"})
    assert r.returncode == 1, r.stdout + r.stderr
    mine = [l for l in doc.splitlines() if l.startswith("| mine ")][0]
    assert "long-mine-crash-abc (AddressSanitizer: heap-use-after-free x.c:1 in f)" in mine, mine
    assert "| 5000 |" in mine


def test_a_second_run_replaces_the_row(tmp_path):
    run(tmp_path)
    (tmp_path / "keep" / "seed").unlink()
    (tmp_path / "keep" / "new1").unlink()
    (tmp_path / "keep").rmdir()
    r, doc = run(tmp_path)
    assert r.returncode == 0
    assert sum(1 for l in doc.splitlines() if l.startswith("| mine ")) == 1
