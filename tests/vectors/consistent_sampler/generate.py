"""Regenerates the consistent-sampler vectors with the reference implementation.

    pip install consistent_sampler==1.0.10
    python3 generate.py

Each case is a population CSV (first column `id`) and the reference's first K draws as
`id,ticket` CSV, tickets as `sampler(..., output='tuple')` prints them (9 significant digits).
`tica sampling draw --seed SEED --population FILE.csv --count K` must print the same bytes.
"""
import csv
import json

from consistent_sampler import sampler

CASES = [
    # A county's schools (school codes), as a county review draws them.
    ("schools", "79512035641283460917", [f"341324{n:04d}" for n in range(1, 121)], 18),
    # A school's teachers (teacher numbers), as the second stage draws them.
    ("teachers", "31415926535897932384", [f"3413240007{n:04d}" for n in range(1, 88)], 14),
    # Odd ids: non-ASCII, spaces, punctuation, and every id drawn.
    ("odd-ids", "dice: 6 2 5 1 4", ["泗县第一小学", "A-1", "a-1", "x y", "0", "00", "é", "Z"], 8),
]

manifest = []
for name, seed, ids, count in CASES:
    with open(f"{name}.population.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "note"])
        for i in ids:
            w.writerow([i, "population member"])
    with open(f"{name}.draw.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "ticket"])
        for ticket, i, _generation in sampler(ids, seed=seed, take=count, output="tuple"):
            w.writerow([i, ticket])
    manifest.append({"name": name, "seed": seed, "count": count})

with open("cases.json", "w", encoding="utf-8") as f:
    json.dump(manifest, f, ensure_ascii=False, indent=2)
    f.write("\n")
