#!/usr/bin/env python3
"""Build and record the tamma-bench quickstart benchmark (examples/quickstart).

Standard library only (Python >= 3.11, for tomllib).

Subcommands
-----------
build   Rebuild cases.jsonl and agents.toml from the source data, deterministically.
        The source is the MMLU sample that ships in the `evals` wheel on PyPI
        (evals==3.0.1.post1, evals/registry/data/sandbagging/samples-all.jsonl,
        all 200 lines, in file order). The few-shot examples come from a
        different file of the same wheel (samples-all-large.jsonl), are
        checked to be disjoint from the cases, and are chosen by a fixed rule
        (see pick_few_shot). The wheel is fetched with
        `python -m pip download --no-deps` unless --evals-wheel is given.
record  Render each case exactly as the tamma-bench runner does (system message
        from the agent's `system` or else the benchmark's `system`, then one
        user message from the agent's `prompt` or else the benchmark's
        `prompt`), send it to a local OpenAI-compatible server
        (scripts/local-model.sh start) with the agent's temperature, seed and
        max_tokens, and write recordings/<agent>.jsonl.
check   Verify that every agent has exactly one line per (case, epoch) and print
        per-agent accuracy ("first A-D letter in the output == target").

Typical use (from the repository root):
    python3 scripts/record_quickstart.py build
    scripts/local-model.sh start
    python3 scripts/record_quickstart.py record
    scripts/local-model.sh stop
    python3 scripts/record_quickstart.py check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = REPO_ROOT / "examples" / "quickstart"

EVALS_VERSION = "3.0.1.post1"
EVALS_WHEEL = f"evals-{EVALS_VERSION}-py3-none-any.whl"
CASES_MEMBER = "evals/registry/data/sandbagging/samples-all.jsonl"
CASES_SHA256 = "41577f1230458da144c599bc8effd4c19183f8c3e684f5e5e26118876ed7829a"
FEWSHOT_MEMBER = "evals/registry/data/sandbagging/samples-all-large.jsonl"
FEWSHOT_SHA256 = "ae8f5342c41efd39921ee0e16c19c3ac3ef09cd8cf367158b47c69592e8f8fac"
SOURCE_LABEL = f"MMLU via openai/evals {EVALS_VERSION} ({CASES_MEMBER})"

MODEL = "SmolLM2-135M-Instruct"
ZERO_SHOT = "smollm2-zero-shot"
FEW_SHOT = "smollm2-few-shot"
MAX_TOKENS = 8
FEW_SHOT_MAX_CHARS = 260  # few-shot questions are kept short (small context, fast CPU inference)

# MMLU subject -> top-level category, from the MMLU authors' categories.py
# (hendrycks/test): STEM, humanities, social sciences, other.
CATEGORY = {
    "abstract algebra": "stem", "anatomy": "other", "astronomy": "stem",
    "business ethics": "other", "clinical knowledge": "other",
    "college biology": "stem", "college chemistry": "stem",
    "college computer science": "stem", "college mathematics": "stem",
    "college medicine": "other", "college physics": "stem",
    "computer security": "stem", "conceptual physics": "stem",
    "econometrics": "social_sciences", "electrical engineering": "stem",
    "elementary mathematics": "stem", "formal logic": "humanities",
    "global facts": "other", "high school biology": "stem",
    "high school chemistry": "stem", "high school computer science": "stem",
    "high school european history": "humanities",
    "high school geography": "social_sciences",
    "high school government and politics": "social_sciences",
    "high school macroeconomics": "social_sciences",
    "high school mathematics": "stem",
    "high school microeconomics": "social_sciences",
    "high school physics": "stem", "high school psychology": "social_sciences",
    "high school statistics": "stem", "high school us history": "humanities",
    "high school world history": "humanities", "human aging": "other",
    "human sexuality": "social_sciences", "international law": "humanities",
    "jurisprudence": "humanities", "logical fallacies": "humanities",
    "machine learning": "stem", "management": "other", "marketing": "other",
    "medical genetics": "other", "miscellaneous": "other",
    "moral disputes": "humanities", "moral scenarios": "humanities",
    "nutrition": "other", "philosophy": "humanities", "prehistory": "humanities",
    "professional accounting": "other", "professional law": "humanities",
    "professional medicine": "other",
    "professional psychology": "social_sciences",
    "public relations": "social_sciences", "security studies": "social_sciences",
    "sociology": "social_sciences", "us foreign policy": "social_sciences",
    "virology": "other", "world religions": "humanities",
}

SYSTEM = (
    "You are taking a multiple-choice test. Answer with the letter "
    "(A, B, C or D) of the correct option only."
)
PROMPT = "{{input}}\nAnswer:"
FEW_SHOT_HEADER = "Here are some example questions with their answers.\n\n"

QUESTION_RE = re.compile(
    r"(?P<q>.*)\nA\. (?P<A>[^\n]*)\nB\. (?P<B>[^\n]*)\nC\. (?P<C>[^\n]*)\nD\. (?P<D>[^\n]*)\nAnswer:",
    re.S,
)


# --------------------------------------------------------------------------- build


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(dest: Path) -> Path:
    wheel = dest / EVALS_WHEEL
    if not wheel.exists():
        dest.mkdir(parents=True, exist_ok=True)
        print(f"downloading evals=={EVALS_VERSION} (no dependencies) into {dest}", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary", ":all:", "-d", str(dest), f"evals=={EVALS_VERSION}"],
            check=True,
        )
    return wheel


def read_member(wheel: Path, member: str, expected_sha: str) -> list[dict]:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    got = sha256(data)
    if got != expected_sha:
        sys.exit(f"{member}: sha256 {got} != expected {expected_sha}")
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def parse_question(raw: str) -> tuple[str, list[str]] | None:
    m = QUESTION_RE.fullmatch(raw)
    if not m:
        return None
    return m.group("q").strip(), [m.group(k).strip() for k in "ABCD"]


def format_input(question: str, options: list[str]) -> str:
    lines = [question]
    lines += [f"{letter}) {text}" for letter, text in zip("ABCD", options)]
    return "\n".join(lines)


def slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


def build_cases(rows: list[dict]) -> list[dict]:
    cases = []
    for i, row in enumerate(rows):
        parsed = parse_question(row["question"])
        if parsed is None:
            sys.exit(f"{CASES_MEMBER} line {i}: unexpected question format")
        question, options = parsed
        subject = row["topic"]
        if subject not in CATEGORY:
            sys.exit(f"{CASES_MEMBER} line {i}: unknown subject {subject!r}")
        subj = slug(subject)
        cases.append({
            "id": f"mmlu-{subj.replace('_', '-')}-{i:04d}",
            "input": format_input(question, options),
            "target": row["answer"],
            "tags": [subj, CATEGORY[subject]],
            "cluster": subj,
            "metadata": {
                "source": SOURCE_LABEL,
                "source_line": i,
                "subject": subject,
                "category": CATEGORY[subject],
            },
        })
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


def pick_few_shot(pool: list[dict], case_rows: list[dict]) -> list[dict]:
    """Fixed rule: walk samples-all-large.jsonl in file order, skip questions that
    also appear among the cases, that do not parse, or that are longer than
    FEW_SHOT_MAX_CHARS; take the first such example whose answer is A, then the
    first whose answer is B, C and D. Present them in file order."""
    used = {r["question"] for r in case_rows}
    chosen: dict[str, tuple[int, str, list[str]]] = {}
    for i, row in enumerate(pool):
        letter = row["answer"]
        if letter in chosen or row["question"] in used:
            continue
        parsed = parse_question(row["question"])
        if parsed is None:
            continue
        text = format_input(*parsed)
        if len(text) > FEW_SHOT_MAX_CHARS:
            continue
        chosen[letter] = (i, text, parsed[1])
        if len(chosen) == 4:
            break
    if len(chosen) != 4:
        sys.exit("could not find four few-shot examples")
    return [{"line": i, "text": t, "answer": a}
            for a, (i, t, _) in sorted(chosen.items(), key=lambda kv: kv[1][0])]


def toml_multiline(s: str) -> str:
    """A TOML multi-line basic string that round-trips exactly."""
    body = s.replace("\\", "\\\\").replace('"', '\\"')
    return '"""\n' + body + '"""'


def toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def render_agents_toml(few_shot: list[dict]) -> str:
    examples = "".join(f"{ex['text']}\nAnswer: {ex['answer']}\n\n" for ex in few_shot)
    few_prompt = FEW_SHOT_HEADER + examples + PROMPT
    lines_note = ", ".join(str(ex["line"]) for ex in few_shot)
    out = f"""\
# Two configurations of the same local model, replayed from recordings so the
# quickstart runs offline with no API key. Regenerate with the commands in
# examples/quickstart/README.md (this file is written by
# `python3 scripts/record_quickstart.py build`).

[[agent]]
name = {toml_str(ZERO_SHOT)}
provider = "replay"
model = {toml_str(MODEL)}
recording = "recordings/{ZERO_SHOT}.jsonl"
temperature = 0.0
seed = 0
max_tokens = {MAX_TOKENS}

# Same model and decoding; the user prompt is prefixed with four solved MMLU
# questions (one per answer letter) from {FEWSHOT_MEMBER}
# (0-based lines {lines_note}), none of which is among the cases.
[[agent]]
name = {toml_str(FEW_SHOT)}
provider = "replay"
model = {toml_str(MODEL)}
recording = "recordings/{FEW_SHOT}.jsonl"
temperature = 0.0
seed = 0
max_tokens = {MAX_TOKENS}
prompt = {toml_multiline(few_prompt)}
"""
    parsed = tomllib.loads(out)
    assert parsed["agent"][1]["prompt"] == few_prompt, "TOML round-trip failed"
    return out


def cmd_build(args: argparse.Namespace) -> None:
    out_dir = Path(args.dir)
    if args.evals_wheel:
        wheel = Path(args.evals_wheel)
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tamma-bench" / "quickstart"
        wheel = fetch_wheel(cache)
    case_rows = read_member(wheel, CASES_MEMBER, CASES_SHA256)
    pool = read_member(wheel, FEWSHOT_MEMBER, FEWSHOT_SHA256)
    cases = build_cases(case_rows)
    few_shot = pick_few_shot(pool, case_rows)
    inputs = {c["input"] for c in cases}
    assert not any(ex["text"] in inputs for ex in few_shot), "few-shot example leaks into cases"

    with open(out_dir / "cases.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    (out_dir / "agents.toml").write_text(render_agents_toml(few_shot), encoding="utf-8", newline="\n")
    subjects = {c["cluster"] for c in cases}
    print(f"wrote {len(cases)} cases ({len(subjects)} subjects) and agents.toml to {out_dir}")


# --------------------------------------------------------------------------- rendering

VAR_RE = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def render(template: str, case: dict) -> str:
    def value(name: str) -> str:
        if name == "input":
            return case["input"]
        if name == "id":
            return case["id"]
        if name == "cluster":
            return case.get("cluster") or ""
        if name == "target":
            t = case.get("target")
            return t if isinstance(t, str) else json.dumps(t, ensure_ascii=False)
        if name.startswith("metadata."):
            v = (case.get("metadata") or {}).get(name[len("metadata."):])
            if v is None:
                raise KeyError(f"case {case['id']}: no metadata key for {{{{{name}}}}}")
            return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        raise KeyError(f"unknown template variable {{{{{name}}}}}")

    return VAR_RE.sub(lambda m: value(m.group(1)), template)


def load(dir_: Path) -> tuple[dict, list[dict], list[dict]]:
    bench = tomllib.loads((dir_ / "benchmark.toml").read_text(encoding="utf-8"))
    agents = tomllib.loads((dir_ / "agents.toml").read_text(encoding="utf-8"))["agent"]
    cases_path = dir_ / bench["cases"]
    cases = [json.loads(l) for l in cases_path.read_text(encoding="utf-8").splitlines() if l.strip()]
    return bench, agents, cases


def messages_for(bench: dict, agent: dict, case: dict) -> list[dict]:
    msgs = []
    system = agent.get("system", bench.get("system"))
    if system is not None:
        msgs.append({"role": "system", "content": render(system, case)})
    msgs.append({"role": "user", "content": render(agent.get("prompt", bench["prompt"]), case)})
    return msgs


# --------------------------------------------------------------------------- record


def chat(base_url: str, body: dict, timeout: float) -> tuple[dict, float]:
    req = urllib.request.Request(
        base_url.rstrip("/") + "/v1/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        payload = json.loads(resp.read().decode("utf-8"))
    return payload, (time.perf_counter() - t0) * 1000.0


def cmd_record(args: argparse.Namespace) -> None:
    dir_ = Path(args.dir)
    bench, agents, cases = load(dir_)
    if args.limit:
        cases = cases[: args.limit]
    epochs = int(bench.get("epochs", 1))
    selected = [a for a in agents if not args.agent or a["name"] in args.agent]
    if args.agent and len(selected) != len(args.agent):
        sys.exit(f"unknown agent in {args.agent}")
    for agent in selected:
        out_path = dir_ / agent["recording"]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        t_start = time.time()
        for epoch in range(epochs):
            for n, case in enumerate(cases, 1):
                body = {
                    "model": agent["model"],
                    "messages": messages_for(bench, agent, case),
                    "temperature": float(agent.get("temperature", 0.0)),
                    "max_tokens": int(agent["max_tokens"]),
                    "stream": False,
                }
                if "seed" in agent:
                    body["seed"] = int(agent["seed"])
                payload, latency = chat(args.base_url, body, args.timeout)
                output = payload["choices"][0]["message"].get("content") or ""
                usage = payload.get("usage") or {}
                lines.append({
                    "case_id": case["id"],
                    "epoch": epoch,
                    "output": output,
                    "usage": {
                        "input_tokens": int(usage.get("prompt_tokens", 0)),
                        "output_tokens": int(usage.get("completion_tokens", 0)),
                    },
                    "latency_ms": round(latency, 1),
                })
                if n % 25 == 0 or n == len(cases):
                    print(f"{agent['name']} epoch {epoch}: {n}/{len(cases)} "
                          f"({time.time() - t_start:.0f}s)", file=sys.stderr)
        fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".rec-", suffix=".jsonl")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
        print(f"wrote {len(lines)} lines to {out_path}", file=sys.stderr)


# --------------------------------------------------------------------------- check


def first_letter(output: str) -> str | None:
    m = re.search(r"[ABCD]", output)
    return m.group(0) if m else None


def cmd_check(args: argparse.Namespace) -> None:
    dir_ = Path(args.dir)
    bench, agents, cases = load(dir_)
    epochs = int(bench.get("epochs", 1))
    targets = {c["id"]: c["target"] for c in cases}
    ok = True
    for agent in agents:
        path = dir_ / agent["recording"]
        recs = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
        keys = [(r["case_id"], r["epoch"]) for r in recs]
        want = {(c["id"], e) for c in cases for e in range(epochs)}
        missing, extra = want - set(keys), set(keys) - want
        dups = len(keys) - len(set(keys))
        if missing or extra or dups:
            ok = False
            print(f"{agent['name']}: {len(missing)} missing, {len(extra)} unknown, {dups} duplicate lines")
        correct = sum(1 for r in recs if first_letter(r["output"]) == targets.get(r["case_id"]))
        no_letter = sum(1 for r in recs if first_letter(r["output"]) is None)
        toks_in = sum(r["usage"]["input_tokens"] for r in recs)
        toks_out = sum(r["usage"]["output_tokens"] for r in recs)
        lat = sorted(r["latency_ms"] for r in recs)
        print(f"{agent['name']}: accuracy {correct}/{len(recs)} = {correct / len(recs):.3f}; "
              f"no A-D letter in {no_letter}; tokens in/out {toks_in}/{toks_out}; "
              f"median latency {lat[len(lat) // 2]:.0f} ms")
    if not ok:
        sys.exit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=str(QUICKSTART), help="quickstart directory (default: %(default)s)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="rebuild cases.jsonl and agents.toml from the source data")
    b.add_argument("--evals-wheel", help=f"path to {EVALS_WHEEL} (default: pip download it)")
    r = sub.add_parser("record", help="record both agents against the local server")
    r.add_argument("--base-url", default=os.environ.get("LOCAL_MODEL_URL", "http://127.0.0.1:8089"))
    r.add_argument("--agent", action="append", help="only this agent (repeatable)")
    r.add_argument("--limit", type=int, default=0, help="only the first N cases (for a smoke test)")
    r.add_argument("--timeout", type=float, default=300.0, help="per-request timeout in seconds")
    sub.add_parser("check", help="check recordings and print per-agent accuracy")
    args = ap.parse_args()
    {"build": cmd_build, "record": cmd_record, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    main()
