#!/usr/bin/env bash
# Real PNG captures of the running dashboard: ghpulse in an xterm on a virtual X display,
# against the fake GitHub server (live mode), driven with tmux send-keys, captured with
# ImageMagick's `import`. Needs: xvfb xterm imagemagick fonts-dejavu-core tmux (Debian).
# Usage: screenshots/capture.sh   (writes screenshots/main.png, feed.png, help.png, add.png, light.png
#        and the animation demo.gif: add -> data -> chart -> remove)
# PROFILE=debug uses a debug build instead of a release one (the screen is the same).
set -euo pipefail
cd "$(dirname "$0")/.."
out=screenshots
for tool in Xvfb xterm import xwininfo tmux; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install xvfb xterm imagemagick x11-utils tmux fonts-dejavu-core" >&2; exit 2; }
done
profile=${PROFILE:-release}
if [ "$profile" = release ]; then cargo build --release --workspace --quiet; else cargo build --workspace --quiet; fi
bin=${CARGO_TARGET_DIR:-target}/$profile
work=$(mktemp -d)
display=:77
sock=ghpulse-shots-$$
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  kill "${xterm_pid:-}" "${xvfb_pid:-}" "${fake_pid:-}" 2>/dev/null || true
  # ghpulse may still be closing its store (the seal is written last).
  rm -rf "$work" 2>/dev/null || { sleep 2; rm -rf "$work"; }
}
trap cleanup EXIT

"$bin/fake-github" --poll-interval 5 --live > "$work/fake.out" 2> "$work/fake.err" &
fake_pid=$!
for _ in $(seq 50); do grep -q listening "$work/fake.out" && break; sleep 0.2; done
url=$(sed -n 's/^listening on //p' "$work/fake.out")

cat > "$work/repositories.toml" <<TOML
# Repositories to watch, "owner/name". At most max_repositories.
repositories = [
  "sigmavirus24/github3.py",
  "sferik/rails_admin",
  "praw-dev/praw",
  "github/gitignore",
]
max_repositories = 5
TOML

Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp > /dev/null 2>&1 &
xvfb_pid=$!
sleep 1
tmux -L "$sock" -f /dev/null new-session -d -s shots -x 120 -y 40 \
  "env -u GH_TOKEN -u NO_COLOR GITHUB_TOKEN=demo XDG_STATE_HOME=$work/state $bin/ghpulse -c $work/repositories.toml -d $work/ghpulse.redb --api-url $url"
tmux -L "$sock" set -g status off
DISPLAY=$display xterm -geometry 120x40+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#1d1f21' -fg '#e0e0e0' \
  -title ghpulse -e tmux -L "$sock" attach -t shots &
xterm_pid=$!
sleep 8   # first reads, a few live events

window=$(DISPLAY=$display xwininfo -root -tree | awk '/"ghpulse"/ {print $1; exit}')
shot() { DISPLAY=$display import -window "$window" "$out/$1.png"; echo "wrote $out/$1.png"; }

shot main
# The feed of the selected repository beside its statistics; Esc closes it.
tmux -L "$sock" send-keys -t shots e; sleep 2; shot feed
tmux -L "$sock" send-keys -t shots Escape; sleep 0.5
tmux -L "$sock" send-keys -t shots '?'; sleep 1; shot help
# Pauses between keys: Escape followed at once by a key reads as Alt+key.
tmux -L "$sock" send-keys -t shots Escape; sleep 0.5
tmux -L "$sock" send-keys -t shots a; sleep 0.5
tmux -L "$sock" send-keys -t shots -l 'praw-dev/PRAW'; sleep 1; shot add
tmux -L "$sock" send-keys -t shots Escape; sleep 0.5

# The animation: add a repository, its data arrives, its activity chart, then remove it.
frames=$work/frames
mkdir -p "$frames"
n=0
frame() { for _ in $(seq "${1:-1}"); do n=$((n + 1)); DISPLAY=$display import -window "$window" "$frames/$(printf %04d $n).png"; sleep 0.4; done; }
keys() { tmux -L "$sock" send-keys -t shots "$@"; }
frame 2
keys a; frame 1
for part in github3py / github3.py; do keys -l "$part"; frame 1; done
frame 2
keys Enter; frame 8
# The new repository is the last one: G keeps it selected, then it is removed.
keys G; frame 2
keys d; frame 3
keys y; frame 5
# ImageMagick 7 is `magick`; 6 is `convert`, taken from /usr/bin first (another `convert`
# earlier in PATH may not be ImageMagick's).
im=$(command -v magick || { [ -x /usr/bin/convert ] && echo /usr/bin/convert; } || echo convert)
DISPLAY=$display "$im" -delay 40 -loop 0 "$frames"/*.png -resize 60% -colors 32 -fuzz 2% -layers Optimize "$out/demo.gif"
echo "wrote $out/demo.gif ($n frames)"
keys q
sleep 1

# The light theme, in a light terminal.
tmux -L "$sock" kill-server 2>/dev/null || true
kill "$xterm_pid" 2>/dev/null || true
tmux -L "$sock" -f /dev/null new-session -d -s shots -x 120 -y 40 \
  "env -u GH_TOKEN -u NO_COLOR GITHUB_TOKEN=demo XDG_STATE_HOME=$work/state $bin/ghpulse --theme light -c $work/repositories.toml -d $work/ghpulse.redb --api-url $url"
tmux -L "$sock" set -g status off
DISPLAY=$display xterm -geometry 120x40+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#fafafa' -fg '#202020' \
  -title ghpulse-light -e tmux -L "$sock" attach -t shots &
xterm_pid=$!
sleep 4
window=$(DISPLAY=$display xwininfo -root -tree | awk '/"ghpulse-light"/ {print $1; exit}')
tmux -L "$sock" send-keys -t shots j j; sleep 1
shot light
tmux -L "$sock" send-keys -t shots q
