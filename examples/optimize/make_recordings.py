"""Writes the optimize example's benchmark cases and replay recordings (seeded).

Six synthetic configurations answer 120 arithmetic questions; each has a fixed
accuracy and answers the questions it gets right with the sum. Run from this folder:
    python3 make_recordings.py
"""
import json
import random

rng = random.Random(7)
cases = []
for i in range(120):
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    cases.append({"id": f"add-{i:03}", "input": f"{a}+{b}=?", "target": str(a + b),
                  "tags": ["carry" if (a % 10 + b % 10) >= 10 else "no-carry"]})
with open("cases.jsonl", "w") as f:
    for c in cases:
        f.write(json.dumps(c) + "\n")

# name -> (accuracy, accuracy on carry cases, output tokens, latency ms)
variants = {
    "small-terse": (0.62, 0.45, 4, 180.0),
    "small-cot": (0.70, 0.60, 40, 420.0),
    "medium-terse": (0.80, 0.72, 4, 300.0),
    "medium-cot": (0.86, 0.84, 40, 650.0),
    "large-terse": (0.88, 0.86, 4, 700.0),
    "large-cot": (0.90, 0.90, 40, 1400.0),
}
difficulty = [rng.random() for _ in cases]
for name, (acc, acc_carry, out_tokens, latency) in variants.items():
    with open(f"recordings/{name}.jsonl", "w") as f:
        for c, d in zip(cases, difficulty):
            p = acc_carry if "carry" in c["tags"] else acc
            right = d < p if rng.random() < 0.8 else rng.random() < p
            out = c["target"] if right else str(int(c["target"]) + rng.choice([-10, -1, 1, 10]))
            f.write(json.dumps({"case_id": c["id"], "output": out,
                                "usage": {"input_tokens": 12, "output_tokens": out_tokens},
                                "latency_ms": round(latency * (0.8 + 0.4 * rng.random()), 1)}) + "\n")
