"""`tica sampling draw` done with the reference sampler (`consistent_sampler` from PyPI).

    python3 reference_flat_draw.py SEED POPULATION.csv COUNT [SKIP]

Reads the population's first column (headed `id`), draws with
`sampler(ids, seed=SEED, drop=SKIP, take=COUNT)` and prints `id,ticket` CSV as
`tests/vectors/consistent_sampler/generate.py` writes it: what `tica sampling draw --seed SEED
--population POPULATION.csv --count COUNT --skip SKIP` prints for ids that do not look like
spreadsheet formulas.
"""
import csv
import sys

from consistent_sampler import sampler

seed, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
skip = int(sys.argv[4]) if len(sys.argv) > 4 else 0

with open(path, newline="", encoding="utf-8-sig") as f:
    rows = csv.reader(f)
    header = next(rows)
    assert header[0].strip() == "id", "the first column must be headed `id`"
    ids = [row[0] for row in rows if row]

out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["id", "ticket"])
for ticket, id_, _generation in sampler(ids, seed=seed, drop=skip, take=count, output="tuple"):
    out.writerow([id_, ticket])
