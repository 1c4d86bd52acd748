#!/usr/bin/env python3
"""probe.py SOURCE

The encoding example's first stage ("get video size"): runs ffprobe on SOURCE and writes
output.json {width, height, duration} in the working folder, for the later stages' placeholders.
Values are strings: the job context holds strings.
"""
import json
import subprocess
import sys


def main():
    if len(sys.argv) != 2:
        print("usage: probe.py SOURCE", file=sys.stderr)
        return 2
    source = sys.argv[1]
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0",
         "-show_entries", "stream=width,height:format=duration", "-of", "json", source],
        capture_output=True, text=True)
    if result.returncode != 0:
        print("ffprobe failed on %s: %s" % (source, result.stderr.strip()), file=sys.stderr)
        return 1
    info = json.loads(result.stdout)
    streams = info.get("streams") or []
    if not streams:
        print("%s has no video stream" % source, file=sys.stderr)
        return 1
    output = {
        "width": str(streams[0]["width"]),
        "height": str(streams[0]["height"]),
        "duration": info.get("format", {}).get("duration", "0"),
    }
    with open("output.json", "w") as f:
        json.dump(output, f)
    print("%s: %sx%s, %s s" % (source, output["width"], output["height"], output["duration"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
