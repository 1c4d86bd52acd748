#!/usr/bin/env python3
"""plan_renditions.py --height SOURCE_HEIGHT --out OUTPUT_DIR

The encoding example's spawn task ("for each couple height/bitrate"): picks the renditions of
the ladder that do not upscale the source, makes one folder per rendition in OUTPUT_DIR (ffmpeg's
HLS muxer does not create folders), records the plan in OUTPUT_DIR/renditions.json for the
fan-in, and writes spawn.json: one transcode task per rendition.
"""
import argparse
import json
import os
import sys

# name, height, video bitrate, audio bitrate: highest first, as a master playlist lists them.
LADDER = [
    ("720p", 720, "2400k", "128k"),
    ("480p", 480, "1200k", "128k"),
    ("360p", 360, "800k", "96k"),
    ("240p", 240, "400k", "64k"),
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    chosen = [r for r in LADDER if r[1] <= a.height] or [LADDER[-1]]
    out = os.path.abspath(a.out)
    spawn = []
    for name, height, vb, ab in chosen:
        os.makedirs(os.path.join(out, name), exist_ok=True)
        spawn.append({"rendition": name, "target_height": str(height),
                      "video_bitrate": vb, "audio_bitrate": ab})
    with open(os.path.join(out, "renditions.json"), "w") as f:
        json.dump(spawn, f, indent=2)
    with open("spawn.json", "w") as f:
        json.dump(spawn, f, indent=2)
    print("renditions: " + ", ".join(s["rendition"] for s in spawn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
