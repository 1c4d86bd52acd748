#!/usr/bin/env python3
"""make_manifests.py OUTPUT_DIR

The encoding example's fan-in ("add playlist footer", "chunk DASH"): after every rendition's
transcode task, writes OUTPUT_DIR/master.m3u8 (the HLS master playlist: one entry per rendition
found, with its measured peak and average bandwidth and its resolution) and a DASH manifest,
OUTPUT_DIR/dash/manifest.mpd, that ffmpeg repackages from the HLS renditions without
re-encoding. Renditions come from OUTPUT_DIR/renditions.json (written by plan_renditions.py);
one whose playlist is missing (its task failed) is left out. Writes output.json with the paths.
"""
import json
import os
import subprocess
import sys


def bandwidth(playlist):
    """Peak and average bits per second of a media playlist's segments."""
    folder = os.path.dirname(playlist)
    peak, total_bits, total_seconds, seconds = 0, 0, 0.0, None
    with open(playlist) as f:
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                seconds = float(line[len("#EXTINF:"):].split(",")[0])
            elif line and not line.startswith("#") and seconds:
                bits = os.path.getsize(os.path.join(folder, line)) * 8
                peak = max(peak, int(bits / seconds))
                total_bits += bits
                total_seconds += seconds
                seconds = None
    return peak, int(total_bits / total_seconds) if total_seconds else 0


def resolution(playlist):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0:s=x", playlist],
        capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[0]


def main():
    if len(sys.argv) != 2:
        print("usage: make_manifests.py OUTPUT_DIR", file=sys.stderr)
        return 2
    out = os.path.abspath(sys.argv[1])
    with open(os.path.join(out, "renditions.json")) as f:
        planned = json.load(f)
    found = [r["rendition"] for r in planned
             if os.path.exists(os.path.join(out, r["rendition"], "index.m3u8"))]
    if not found:
        print("no rendition playlists in %s" % out, file=sys.stderr)
        return 1

    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name in found:
        playlist = os.path.join(out, name, "index.m3u8")
        peak, average = bandwidth(playlist)
        lines.append("#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,RESOLUTION=%s"
                     % (peak, average, resolution(playlist)))
        lines.append("%s/index.m3u8" % name)
    master = os.path.join(out, "master.m3u8")
    with open(master, "w") as f:
        f.write("\n".join(lines) + "\n")

    # DASH: every rendition's video, and the audio of the first, copied into one MPD.
    dash_dir = os.path.join(out, "dash")
    os.makedirs(dash_dir, exist_ok=True)
    mpd = os.path.join(dash_dir, "manifest.mpd")
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    for name in found:
        cmd += ["-i", os.path.join(out, name, "index.m3u8")]
    for i in range(len(found)):
        cmd += ["-map", "%d:v:0" % i]
    cmd += ["-map", "0:a:0?", "-c", "copy", "-tag:v", "avc1", "-tag:a", "mp4a", "-f", "dash", "-seg_duration", "4",
            "-use_template", "1", "-use_timeline", "1",
            "-adaptation_sets", "id=0,streams=v id=1,streams=a", mpd]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        print("ffmpeg could not write the DASH manifest", file=sys.stderr)
        return 1

    with open("output.json", "w") as f:
        json.dump({"master_playlist": master, "dash_manifest": mpd,
                   "renditions": ",".join(found)}, f)
    print("master.m3u8 lists %s; DASH manifest %s" % (", ".join(found), mpd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
