#!/bin/sh
# Memory of the host processes: starts `mimamori run` with the aggregator and
# one idle module (hello, no packets), waits until it settles and prints RSS
# and private (unshared) memory of the supervisor, the idle worker and the
# aggregator, from /proc/PID/smaps_rollup. A `sleep` process measured the
# same way is the baseline (what any process costs here).
#   bench/host/rss.sh [BUILD_DIR]
set -eu
build=${1:-build}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/conf"
cat >"$tmp/conf/00.conf" <<CONF
sensor = { id = "rss"; role = "utm"; };
host = { state_dir = "$tmp/state"; run_dir = "$tmp/run"; log_level = "warn"; };
aggregator = { enabled = true; };
modules = { hello = { enabled = true; report_interval_sec = 3600; }; };
CONF
"$build/mimamori" -c "$tmp/conf" --plugin-dir "$build/plugins" run --for 30 >"$tmp/out" 2>&1 &
pid=$!
sleep 30 &
base=$!
sleep 5
kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup"; }
show() {
	printf '%-12s RSS %6s kB  private %6s kB  (baseline ratio %.1f)\n' "$1" "$(kb "$2" Rss)" \
		"$(( $(kb "$2" Private_Clean) + $(kb "$2" Private_Dirty) ))" \
		"$(echo "$(kb "$2" Rss) $(kb "$base" Rss)" | awk '{print $1 / $2}')"
}
show baseline "$base"
show supervisor "$pid"
for p in $(pgrep -P "$pid"); do
	case "$(tr '\0' ' ' <"/proc/$p/cmdline")" in
	*" worker "*) show "idle worker" "$p" ;;
	*aggregator*) show aggregator "$p" ;;
	esac
done
kill "$base"
