#!/usr/bin/env python3
"""CCTV counts for the demo (`scripts/demo.sh`): generates request bodies for
`POST /cctv/counts` and prints the API's answers compactly. Python 3 stdlib only.

  week     --today D --out-dir DIR   the complete local days before D: 5-minute counts of
                                     every camera, written as batches (DIR/week-NNN.json)
  spike    --today D                 a few very high counts at the start of local day D
                                     (a request body, on standard output)
  posted   ANSWER...                 one line: the totals of POST answers (files)
  post     < ANSWER                  one line per POST answer, then its outliers
  stats    < ANSWER                  a stats answer as a table
  outliers < ANSWER...               outliers answers (one per line of input) as a table
  page     < ANSWER                  the total of a paged answer and its items, one a line
"""

import argparse
import json
import math
import random
import sys
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CAMERAS = {
    # camera: (people at the busiest interval, vehicles at the busiest interval)
    "cam-01": (40, 12),  # a shopping street: people
    "cam-02": (12, 30),  # a car park entrance: vehicles
    "cam-03": (8, 4),  # a side door: quiet
}
INTERVAL = timedelta(minutes=5)


def bump(hour, centre, width):
    return math.exp(-(((hour - centre) / width) ** 2))


def rhythm(hour, weekend):
    """People and vehicle activity (0..~1) at a fractional local hour."""
    if weekend:
        people = 0.05 + 0.8 * bump(hour, 14, 3.5) + 0.3 * bump(hour, 19, 2)
        vehicles = 0.05 + 0.6 * bump(hour, 13, 4)
    else:
        people = 0.05 + 0.9 * bump(hour, 8.5, 1.2) + 0.6 * bump(hour, 12.5, 1.3) + 0.95 * bump(hour, 18, 1.6)
        vehicles = 0.05 + 1.0 * bump(hour, 8, 1.5) + 0.3 * bump(hour, 13, 2.5) + 0.9 * bump(hour, 18.5, 1.8)
    return people, vehicles


def noisy(rng, mean):
    """A count around `mean`: roughly Poisson (normal with variance = mean), at least 0."""
    return max(0, round(rng.gauss(mean, math.sqrt(mean) if mean > 0 else 0.0)))


def iso(local):
    return local.isoformat(timespec="seconds")


def week(args):
    zone = ZoneInfo(args.tz)
    today = date.fromisoformat(args.today)
    rng = random.Random(args.seed)
    counts = []
    for back in range(args.days, 0, -1):
        day = today - timedelta(days=back)
        weekend = day.weekday() >= 5
        start = datetime.combine(day, time(0), tzinfo=zone)
        end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        while start < end_of_day:
            end = start + INTERVAL
            hour = start.hour + start.minute / 60
            people_f, vehicles_f = rhythm(hour, weekend)
            for camera, (people_peak, vehicles_peak) in CAMERAS.items():
                counts.append({
                    "camera_id": camera,
                    "start": iso(start),
                    "end": iso(end),
                    "people": noisy(rng, people_peak * people_f),
                    "vehicles": noisy(rng, vehicles_peak * vehicles_f),
                })
            start = end
    files = []
    for n, first in enumerate(range(0, len(counts), args.batch), 1):
        path = f"{args.out_dir}/week-{n:03}.json"
        with open(path, "w") as f:
            json.dump({"counts": counts[first:first + args.batch]}, f, separators=(",", ":"))
        files.append(path)
    first_day = today - timedelta(days=args.days)
    last_day = today - timedelta(days=1)
    print(f"{len(counts)} counts of {len(CAMERAS)} cameras, {first_day} to {last_day} ({args.tz}), "
          f"in {len(files)} batches of at most {args.batch}", file=sys.stderr)
    print("\n".join(files))


def spike(args):
    zone = ZoneInfo(args.tz)
    midnight = datetime.combine(date.fromisoformat(args.today), time(0), tzinfo=zone)
    spikes = [("cam-01", 400, 150), ("cam-02", 300, 0), ("cam-03", 0, 120)]
    counts = []
    for i, (camera, people, vehicles) in enumerate(spikes):
        start = midnight + i * INTERVAL
        counts.append({"camera_id": camera, "start": iso(start), "end": iso(start + INTERVAL),
                       "people": people, "vehicles": vehicles})
    json.dump({"counts": counts}, sys.stdout)
    print()


def load(text):
    envelope = json.loads(text)
    if envelope.get("code") != 1000:
        sys.exit(f"not a success: {text.strip()}")
    return envelope["data"]


def posted(args):
    keys = ("received", "inserted", "updated", "unchanged", "cameras_registered")
    totals = dict.fromkeys(keys, 0)
    outliers = 0
    for path in args.answers:
        with open(path) as f:
            data = load(f.read())
        for k in keys:
            totals[k] += data[k]
        outliers += len(data["outliers"])
    print(f"{len(args.answers)} requests: " + ", ".join(f"{k} {v}" for k, v in totals.items())
          + f", outliers {outliers}")


def post(_args):
    data = load(sys.stdin.read())
    print(", ".join(f"{k} {data[k]}" for k in ("received", "inserted", "updated", "unchanged",
                                                 "cameras_registered")) + f", outliers {len(data['outliers'])}")
    for o in data["outliers"]:
        print(f"  outlier: [{o['index']}] {o['camera_id']} {o['start']} {o['outlier']:<7} "
              f"reference {o['reference_kind']}: people {o['people_reference']:.1f}, "
              f"vehicles {o['vehicle_reference']:.1f}")


def stats(_args):
    rows = load(sys.stdin.read())
    print(f"  {'period':<23} {'samples':>7} {'people avg/ref':>15} {'vehicles avg/ref':>17}")
    for r in rows:
        period = r["period_start"] if r["period_start"] == r["period_end"] else f"{r['period_start']}..{r['period_end']}"
        people = f"{r['people_avg']:.1f}/{r['people_reference']:.1f}"
        vehicles = f"{r['vehicles_avg']:.1f}/{r['vehicles_reference']:.1f}"
        print(f"  {period:<23} {r['samples']:>7} {people:>15} {vehicles:>17}")


def outliers(_args):
    print(f"  {'camera':<7} {'start (UTC)':<21} {'people':>6} {'vehicles':>8}  {'outlier':<7}  reference")
    for line in sys.stdin:
        if not line.strip():
            continue
        for o in load(line)["items"]:
            print(f"  {o['camera_id']:<7} {o['start']:<21} {o['people']:>6} {o['vehicles']:>8}  {o['outlier']:<7}  "
                  f"{o['reference_kind']} (people {o['people_reference']:.1f}, vehicles {o['vehicle_reference']:.1f})")


def page(_args):
    data = load(sys.stdin.read())
    print(f"total {data['total']}")
    for item in data["items"]:
        print("  " + json.dumps(item, separators=(",", ":")))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("week")
    p.add_argument("--today", required=True)
    p.add_argument("--tz", default="Asia/Seoul")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--out-dir", required=True)
    p.set_defaults(run=week)
    p = sub.add_parser("spike")
    p.add_argument("--today", required=True)
    p.add_argument("--tz", default="Asia/Seoul")
    p.set_defaults(run=spike)
    p = sub.add_parser("posted")
    p.add_argument("answers", nargs="+")
    p.set_defaults(run=posted)
    for name, run in (("post", post), ("stats", stats), ("outliers", outliers), ("page", page)):
        sub.add_parser(name).set_defaults(run=run)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
