#!/usr/bin/env bash
# `make bench`: times the policy against the floor module that does the
# least a policy must do for the same request (accept-floor: parse and
# accept; mutate-floor: parse and send the object back), both loaded once in
# the e2e runner and called alternately in the same run. Prints one line per
# request and the growth of the pod size series; exits 1 when a ratio is over
# its budget.
#
# usage: bench/bench.sh RUNNER POLICY.wasm ACCEPT_FLOOR.wasm MUTATE_FLOOR.wasm
# environment: WARM_UP (default 50), ITERATIONS (default 400), SERIES_ROUNDS
# (rounds of the size series, default 3), BENCH_DIR
# (generated requests and the raw JSON results, default target/bench)
set -euo pipefail

runner=$1 policy=$2 accept_floor=$3 mutate_floor=$4
warm_up=${WARM_UP:-50}
iterations=${ITERATIONS:-400}
dir=${BENCH_DIR:-target/bench}
here=$(dirname "$0")

# Budgets, as policy median / floor median.
path_budget=2.0
# pod-1000 / pod-100: ten times the containers.
series_budget=12

mkdir -p "$dir"
generate() { # FILE KIND APPS SIDECARS
    jq -nc --arg kind "$2" --argjson apps "$3" --argjson sidecars "$4" \
        -f "$here/requests.jq" >"$1"
}
generate "$dir/deployment-20.json" Deployment 15 5
for n in 10 100 1000; do
    generate "$dir/pod-$n.json" Pod $((n / 2)) $((n / 2))
done

# name, request, path (conversion or no change)
cases=(
    "seed pod|test_data/pod_eshop_cart_app_sidecar_without_mount.json|conversion"
    "already converted pod|test_data/pod_already_converted.json|no change"
    "Deployment, 20 containers, 5 sidecars|$dir/deployment-20.json|conversion"
    "pod, 10 containers, 5 sidecars|$dir/pod-10.json|conversion"
    "pod, 100 containers, 50 sidecars|$dir/pod-100.json|conversion"
    "pod, 1000 containers, 500 sidecars|$dir/pod-1000.json|conversion"
)

results=$dir/results.jsonl
: >"$results"
failed=0
echo "$warm_up warm-up and $iterations timed evaluations per module; medians in microseconds"
printf '%-38s %-11s %10s %10s %7s  %s\n' request path policy floor ratio budget
for case in "${cases[@]}"; do
    IFS='|' read -r name request path <<<"$case"
    # The request must take the path it is timed for.
    mutated=$("$runner" run --request-path "$request" "$policy" | jq '.patch != null')
    if [[ $path == conversion ]]; then
        expected=true floor=$mutate_floor floor_name=mutate-floor
    else
        expected=false floor=$accept_floor floor_name=accept-floor
    fi
    if [[ $mutated != "$expected" ]]; then
        echo "$name: expected the $path path, the policy answered otherwise" >&2
        exit 2
    fi
    line=$("$runner" bench --request-path "$request" --warm-up "$warm_up" \
        --iterations "$iterations" --floor "$floor" "$policy")
    jq -c --arg name "$name" --arg path "$path" '{name: $name, path: $path} + .' \
        <<<"$line" >>"$results"
    read -r policy_us floor_us ratio < <(jq -r \
        '"\(.policy.median_us) \(.floor.median_us) \(.median_ratio)"' <<<"$line")
    verdict=ok
    if awk -v r="$ratio" -v b="$path_budget" 'BEGIN { exit !(r > b) }'; then
        verdict=OVER
        failed=1
    fi
    printf '%-38s %-11s %10s %10s %6.2fx  <= %sx %s  %s\n' "$name" "$path" \
        "$policy_us" "$floor_us" "$ratio" "$path_budget" "$floor_name" "$verdict"
done

# The size series, in rounds: each round times the 100- and the
# 1000-container pods back to back, so that a change in the machine's load
# between two distant measurements does not pass for growth. The growth is
# the median of the rounds' ratios.
rounds=${SERIES_ROUNDS:-3}
series=$dir/series.jsonl
: >"$series"
for round in $(seq "$rounds"); do
    for n in 100 1000; do
        "$runner" bench --request-path "$dir/pod-$n.json" --warm-up "$warm_up" \
            --iterations "$iterations" --floor "$mutate_floor" "$policy" |
            jq -c --argjson round "$round" --argjson n "$n" \
                '{round: $round, containers: $n} + .' >>"$series"
    done
done
growths() { # policy or floor: each round's growth, then their median
    jq -rs --arg part "$1" '
        group_by(.round)
        | map((map(select(.containers == 1000))[0][$part].median_us)
              / (map(select(.containers == 100))[0][$part].median_us) * 100 | round / 100)
        | "\(map(tostring + "x") | join(" ")) \(sort | .[length / 2 | floor])"' "$series"
}
read -r -a policy_growths < <(growths policy)
growth=${policy_growths[-1]}
verdict=ok
if awk -v g="$growth" -v b="$series_budget" 'BEGIN { exit !(g > b) }'; then
    verdict=OVER
    failed=1
fi
read -r -a floor_growths < <(growths floor)
echo "size series, $rounds rounds: 1000 containers take ${growth}x the time of 100 (budget ${series_budget}x for 10x the containers)  $verdict"
echo "             rounds: ${policy_growths[*]:0:$rounds}"
# The floor's growth for comparison: what parsing alone does on this machine.
echo "             mutate-floor: ${floor_growths[-1]}x (rounds: ${floor_growths[*]:0:$rounds})"
echo "raw results: $results, $series"
exit "$failed"
