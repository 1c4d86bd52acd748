#!/usr/bin/env python3
"""export_data.py --data_id ID --out DIR [--count N]

The request-data example's export step, offline: instead of serialising data from a REST
server it writes N small JSON records for ID into DIR (a shared folder), then reports DIR in
output.json so later stages (the spawn task) can find the files through the job context.
"""
import argparse
import json
import os
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data_id", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=3)
    a = p.parse_args()
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    for n in range(1, a.count + 1):
        record = {"data_id": a.data_id, "part": n, "of": a.count}
        with open(os.path.join(out, "part-%d.json" % n), "w") as f:
            json.dump(record, f)
    # output.json in the working folder (the cwd): its keys join the job context.
    with open("output.json", "w") as f:
        json.dump({"export_dir": out, "exported_files": str(a.count)}, f)
    print("exported %d parts of %s to %s" % (a.count, a.data_id, out))


if __name__ == "__main__":
    sys.exit(main())
