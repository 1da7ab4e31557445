"""Re-runs a TICA review round's draw with the reference sampler and compares it.

    python3 -m venv venv && venv/bin/pip install -r requirements.txt
    venv/bin/python reproduce.py

Reads, from this script's directory: population.csv (whose SHA-256 the round published before its
seed), plan.json (whose SHA-256 the round committed in the transparency log with it), seed.txt,
commitment.json and expected_sample.csv. Draws every stratum as plan.json's `rule` says, with
Rivest's consistent_sampler (https://pypi.org/project/consistent-sampler/), and compares the
result with expected_sample.csv: prints what differs and exits 1, or prints "reproduced" and
exits 0.
"""
import csv
import hashlib
import io
import json
import os
import sys

from consistent_sampler import sampler

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), "rb") as f:
        return f.read()


population_bytes = read("population.csv")
plan_bytes = read("plan.json")
seed = read("seed.txt").decode("utf-8")
commitment = json.loads(read("commitment.json"))
plan = json.loads(plan_bytes)
problems = []

for name, data, key in [
    ("population.csv", population_bytes, "population_sha256"),
    ("plan.json", plan_bytes, "plan_sha256"),
]:
    digest = hashlib.sha256(data).hexdigest()
    if digest != commitment[key]:
        problems.append(f"{name} has SHA-256 {digest}, the commitment says {commitment[key]}")

strata = {}
for row in csv.DictReader(io.StringIO(population_bytes.decode("utf-8"), newline="")):
    strata.setdefault(row["stratum"], []).append(row["id"])


def size(rate, n, minimum):
    """min(N, max(minimum, ceil(rate * N))), nothing from nothing."""
    numerator, denominator = rate
    if n == 0 or denominator == 0:
        return 0
    return min(n, max(minimum, -(-numerator * n // denominator)))


def draw(stratum, rate, minimum, first):
    """The stratum's picks as (id, position, ticket): `first` in ticket order, then the ids
    not drawn before, wrapping to the ids drawn before when too few are left."""
    ids = strata.get(stratum, [])
    order = [(position, ticket, id_) for position, (ticket, id_, _) in
             enumerate(sampler(ids, seed=seed, take=len(ids), output="tuple"), start=1)]
    k = size(rate, len(ids), minimum)
    forced = [entry for entry in order if entry[2] in first]
    skip = set(plan["drawn_before"].get(stratum, [])) | {entry[2] for entry in forced}
    wanted = min(max(0, k - len(forced)), len(ids))
    rest = [entry for entry in order if entry[2] not in skip][:wanted]
    if len(rest) < wanted:
        rest += [entry for entry in order if entry[2] in skip][:wanted - len(rest)]
    picks = forced + [entry for entry in rest if entry not in forced]
    return [(id_, position, ticket) for position, ticket, id_ in picks]


computed = set()
first = set(plan["re_examined_first"])
for batch in plan["batches"]:
    county = batch["school_stratum"]
    for school, position, ticket in draw(county, batch["school_rate"],
                                         batch["minimum_per_stratum"], first):
        computed.add((school, "school", county, position, ticket))
        teachers = f"school-{school}"
        for teacher, t_position, t_ticket in draw(teachers, batch["teacher_rate"],
                                                  batch["minimum_per_stratum"], set()):
            computed.add((teacher, "teacher", teachers, t_position, t_ticket))

expected = set()
for row in csv.DictReader(io.StringIO(read("expected_sample.csv").decode("utf-8"), newline="")):
    expected.add((row["id"], row["stage"], row["stratum"], int(row["position"]), row["ticket"]))

for row in sorted(expected - computed):
    problems.append(f"expected but not drawn: {row}")
for row in sorted(computed - expected):
    problems.append(f"drawn but not expected: {row}")

if problems:
    print(f"{plan['review_round']}: NOT reproduced")
    for problem in problems:
        print("  " + problem)
    sys.exit(1)
print(f"{plan['review_round']}: reproduced ({len(computed)} items, seed {seed!r}, "
      f"log index {commitment['log_index']})")
