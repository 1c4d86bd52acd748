#!/usr/bin/env python3
"""spawn_downloads.py --from EXPORT_DIR --to DOWNLOAD_DIR

The request-data example's spawn task: one download task per exported file. Writes spawn.json
(a JSON array of objects) in the working folder; each object's keys become the inputs of one
`download` task. file:// URLs keep the example offline; a real export would list http URLs.
"""
import argparse
import json
import os
import pathlib
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--from", dest="source", required=True)
    p.add_argument("--to", dest="target", required=True)
    a = p.parse_args()
    files = sorted(f for f in os.listdir(a.source) if f.endswith(".json"))
    if not files:
        print("nothing exported in %s" % a.source, file=sys.stderr)
        return 1
    spawn = [
        {
            "url": pathlib.Path(os.path.abspath(os.path.join(a.source, f))).as_uri(),
            "output_path": os.path.abspath(a.target),
            "file_name": f,
        }
        for f in files
    ]
    with open("spawn.json", "w") as f:
        json.dump(spawn, f, indent=2)
    print("spawning %d downloads" % len(spawn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
