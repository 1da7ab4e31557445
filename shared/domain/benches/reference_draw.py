"""The province-audit draw of benches/draw.rs, done with the reference sampler.

    python3 reference_draw.py SEED COUNTIES SCHOOLS TEACHERS SCHOOL_PCT TEACHER_PCT

Builds the same population as the Rust bench (county c: (3411 + c // 10) * 100 + c % 10 + 1;
school s: county * 10000 + s + 1; teacher t: school * 10000 + t + 1, all as decimal text), draws
ceil(rate × N) (at least 1) schools per county and teachers per drawn school with
consistent_sampler, prints the sample as `county,school,school_ticket,teacher,teacher_ticket`
lines, and the draw's own time in seconds (population building excluded) as the last line.
"""
import math
import sys
import time

from consistent_sampler import sampler

seed, counties, schools, teachers, school_pct, teacher_pct = sys.argv[1:7]
counties, schools, teachers = int(counties), int(schools), int(teachers)
school_pct, teacher_pct = int(school_pct), int(teacher_pct)

population = []
for c in range(counties):
    county = (3411 + c // 10) * 100 + c % 10 + 1
    county_schools = []
    for s in range(schools):
        school = county * 10000 + s + 1
        county_schools.append((str(school), [str(school * 10000 + t + 1) for t in range(teachers)]))
    population.append((str(county), county_schools))


def size(pct, n):
    return min(n, max(1, math.ceil(pct * n / 100)))


started = time.perf_counter()
lines = []
for county, county_schools in population:
    members = dict(county_schools)
    for school_ticket, school, _ in sampler(list(members), seed=seed, take=size(school_pct, len(members))):
        staff = members[school]
        for ticket, teacher, _ in sampler(staff, seed=seed, take=size(teacher_pct, len(staff))):
            lines.append(f"{county},{school},{school_ticket},{teacher},{ticket}")
elapsed = time.perf_counter() - started
print("\n".join(lines))
print(f"{elapsed:.6f}")
