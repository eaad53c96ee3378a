#!/usr/bin/env bash
# `make bench`: times the policy against the floor module that does the
# least a policy must do for the same request (accept-floor: parse and
# accept; mutate-floor: parse and send the object back; list-floor: parse,
# list the nodes through the host and parse the list), both loaded once in
# the e2e runner and called alternately in the same run. Prints one line per
# request and the growth of the pod size series; exits 1 when a ratio is over
# its budget, 2 when a request does not take the path it is timed for (or
# cannot be evaluated at all).
#
# usage: bench/bench.sh RUNNER POLICY.wasm ACCEPT_FLOOR.wasm MUTATE_FLOOR.wasm
#                       LIST_FLOOR.wasm POLICY_METADATA.yml
# POLICY_METADATA.yml grants the (unannotated) policy its contextAwareResources
# in the `sidecarSupport: detect` requests, through the runner's --metadata-path.
# environment: WARM_UP (default 50), ITERATIONS (default 400), ROUNDS (times
# each request is measured, default 3), SERIES_ROUNDS (rounds of the size
# series, default 3), BENCH_DIR (generated requests and the raw JSON
# results, default target/bench)
set -euo pipefail

runner=$1 policy=$2 accept_floor=$3 mutate_floor=$4 list_floor=$5 metadata=$6
warm_up=${WARM_UP:-50}
iterations=${ITERATIONS:-400}
rounds=${ROUNDS:-3}
dir=${BENCH_DIR:-target/bench}
here=$(dirname "$0")

# Budgets, as policy median / floor median: the goals of docs/performance.md.
# The seed pod and an already converted pod: within 10% of their floors.
seed_budget=1.10
# A pod without log sidecars, the request almost every pod makes, with and
# without `sidecarSupport: detect`: within 5% of reading the request.
plain_budget=1.05
# 1,000 containers: within 20% of the floor.
large_budget=1.2
# The seed pod under `detect` with 5,000 nodes, against list-floor: reading
# the nodes costs the policy no more than parsing them costs the floor.
nodes_budget=1.0
# The other sizes are not goals; they guard against regressions.
guard_budget=2.0

mkdir -p "$dir"
generate() { # FILE KIND APPS SIDECARS
    jq -nc --arg kind "$2" --argjson apps "$3" --argjson sidecars "$4" \
        -f "$here/requests.jq" >"$1"
}
generate "$dir/deployment-20.json" Deployment 15 5
for n in 10 100 1000; do
    generate "$dir/pod-$n.json" Pod $((n / 2)) $((n / 2))
done
generate "$dir/pod-no-sidecar.json" Pod 3 0
# A kwctl session: the nodes the policy lists for the seed pod.
jq -nr --argjson nodes 5000 -f "$here/nodes.jq" >"$dir/nodes-5000.yml"

seed=test_data/pod_eshop_cart_app_sidecar_without_mount.json
detect='{"sidecarSupport":"detect"}'
# A Deployment's template is only reviewed by default; rewriting it is the
# conversion path.
templates='{"convertTemplates":true}'
# name|request|path (conversion or no change)|floor|settings|session|host calls|budget
cases=(
    "seed pod|$seed|conversion|mutate|{}||0|$seed_budget"
    "already converted pod|test_data/pod_already_converted.json|no change|accept|{}||0|$seed_budget"
    "Deployment, 20 containers, 5 sidecars|$dir/deployment-20.json|conversion|mutate|$templates||0|$guard_budget"
    "pod, 10 containers, 5 sidecars|$dir/pod-10.json|conversion|mutate|{}||0|$guard_budget"
    "pod, 100 containers, 50 sidecars|$dir/pod-100.json|conversion|mutate|{}||0|$guard_budget"
    "pod, 1000 containers, 500 sidecars|$dir/pod-1000.json|conversion|mutate|{}||0|$large_budget"
    "pod without sidecars|$dir/pod-no-sidecar.json|no change|accept|{}||0|$plain_budget"
    "pod without sidecars, detect|$dir/pod-no-sidecar.json|no change|accept|$detect||0|$plain_budget"
    "seed pod, detect, 5,000 nodes|$seed|conversion|list|$detect|$dir/nodes-5000.yml|1|$nodes_budget"
)

results=$dir/results.jsonl
: >"$results"
failed=0 broken=0
echo "$warm_up warm-up and $iterations timed evaluations per module, $rounds rounds per request;"
echo "medians in microseconds of the median round; ratio: the median of the rounds' ratios"
printf '%-38s %-11s %10s %10s %7s  %-13s %s\n' request path policy floor ratio spread budget
for case in "${cases[@]}"; do
    IFS='|' read -r name request path floor_name settings session calls budget <<<"$case"
    case $floor_name in
    accept) floor=$accept_floor ;;
    mutate) floor=$mutate_floor ;;
    list) floor=$list_floor ;;
    esac
    # The context-aware flags of kwctl (and the runner's --metadata-path)
    # for the requests under `detect`.
    context=()
    if [[ $settings == "$detect" ]]; then
        context=(--allow-context-aware --metadata-path "$metadata")
        [[ -n $session ]] && context+=(--replay-host-capabilities-interactions "$session")
    fi
    # The request must take the path it is timed for.
    if ! answer=$("$runner" run --request-path "$request" --settings-json "$settings" \
        "${context[@]}" "$policy" 2>"$dir/stderr"); then
        printf '%-38s %-11s not measured: %s\n' "$name" "$path" "$(tail -n 1 "$dir/stderr")"
        broken=1
        continue
    fi
    mutated=$(jq '.patch != null' <<<"$answer")
    if [[ $path == conversion ]]; then expected=true; else expected=false; fi
    if [[ $mutated != "$expected" ]]; then
        echo "$name: expected the $path path, the policy answered otherwise: $answer" >&2
        exit 2
    fi
    lines=()
    for round in $(seq "$rounds"); do
        # The runner's notes (grants, exchanges left over) go to a file: the
        # host calls made are checked below.
        if ! line=$("$runner" bench --request-path "$request" --settings-json "$settings" \
            "${context[@]}" --warm-up "$warm_up" --iterations "$iterations" \
            --floor "$floor" "$policy" 2>"$dir/stderr"); then
            echo "$name: the benchmark failed:" >&2
            cat "$dir/stderr" >&2
            exit 2
        fi
        # A host call where none is expected (or none where one is) is
        # another path.
        made=$(jq -r '.policy.kubernetes_calls' <<<"$line")
        if [[ $made != "$calls" ]]; then
            echo "$name: expected $calls Kubernetes host call(s), the policy made $made" >&2
            exit 2
        fi
        jq -c --arg name "$name" --arg path "$path" --argjson round "$round" \
            '{name: $name, path: $path, round: $round} + .' <<<"$line" >>"$results"
        lines+=("$line")
    done
    # The round with the median ratio gives the times; all rounds the spread.
    read -r policy_us floor_us ratio low high < <(printf '%s\n' "${lines[@]}" | jq -rs '
        sort_by(.median_ratio) as $r | $r[length / 2 | floor] as $m
        | "\($m.policy.median_us) \($m.floor.median_us) \($m.median_ratio) \($r[0].median_ratio) \($r[-1].median_ratio)"')
    verdict=ok
    if awk -v r="$ratio" -v b="$budget" 'BEGIN { exit !(r > b) }'; then
        verdict=OVER
        failed=1
    fi
    printf '%-38s %-11s %10s %10s %6.2fx  %5.2f-%5.2fx  <= %sx %s  %s\n' "$name" "$path" \
        "$policy_us" "$floor_us" "$ratio" "$low" "$high" "$budget" "$floor_name-floor" "$verdict"
done

# The size series, in rounds: each round times the 100- and the
# 1000-container pods back to back, so that a change in the machine's load
# between two distant measurements does not pass for growth. The growth is
# the median of the rounds' ratios.
series_rounds=${SERIES_ROUNDS:-3}
series=$dir/series.jsonl
: >"$series"
for round in $(seq "$series_rounds"); do
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
read -r -a floor_growths < <(growths floor)
growth=${policy_growths[-1]} floor_growth=${floor_growths[-1]}
# The policy grows no faster than the floor, which only parses and writes
# the request. The two are compared round by round, since a round's load
# moves both alike (single rounds have ranged from 10x to 21x here): the
# verdict is on the median of the rounds' policy growth / floor growth.
read -r -a relative < <(jq -rs '
    group_by(.round)
    | map((map(select(.containers == 1000))[0] as $l | map(select(.containers == 100))[0] as $s
           | ($l.policy.median_us / $s.policy.median_us) / ($l.floor.median_us / $s.floor.median_us))
          * 100 | round / 100)
    | "\(map(tostring) | join(" ")) \(sort | .[length / 2 | floor])"' "$series")
verdict=ok
if awk -v r="${relative[-1]}" 'BEGIN { exit !(r > 1) }'; then
    verdict=OVER
    failed=1
fi
echo "size series, $series_rounds rounds: 1000 containers take ${growth}x the time of 100, the floor ${floor_growth}x"
echo "             policy rounds: ${policy_growths[*]:0:$series_rounds}"
echo "             mutate-floor rounds: ${floor_growths[*]:0:$series_rounds}"
echo "             policy growth / floor growth: ${relative[-1]} (rounds: ${relative[*]:0:$series_rounds}; budget 1)  $verdict"
echo "raw results: $results, $series"
if [[ $broken == 1 ]]; then
    exit 2
fi
exit "$failed"
