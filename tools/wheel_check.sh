#!/usr/bin/env bash
# Build framescope's wheel, install it (not editable) into a fresh virtual environment outside
# the checkout, and run the main commands from there: data validate on the bundled data, data
# split on a CSV whose labels column is `label`, train on a tiny random-weight model, score,
# report. Proves the package works without the git checkout (package data, no ROOT paths).
#   bash tools/wheel_check.sh            (make wheel-check; part of make test)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export FRAMESCOPE_CACHE="$work/cache"
start=$(date +%s)

echo "wheel-check: building the wheel"
quiet() { "$@" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }; }
quiet "$py" -m pip wheel --no-deps --no-build-isolation -w "$work/dist" "$repo"
rm -rf "$repo/build"
wheel=$(ls "$work"/dist/framescope-*.whl)
# list once into a file: `unzip -l | grep -q` under pipefail fails at random (grep -q exits at the
# first match, unzip then dies of SIGPIPE and the pipeline reports 141)
unzip -l "$wheel" > "$work/wheel-files"
grep -q "framescope/data/bundled/taxonomies/war-frames.yaml" "$work/wheel-files" \
  || { echo "wheel-check: the wheel lacks the bundled taxonomies"; exit 1; }
grep -q "framescope/serving/templates/page.html.j2" "$work/wheel-files" \
  || { echo "wheel-check: the wheel lacks the serve page template"; exit 1; }

echo "wheel-check: installing it into a fresh venv"
"$py" -m venv "$work/venv"
bin="$work/venv/bin"
quiet "$bin/python" -m pip install torch==2.13.0
quiet "$bin/python" -m pip install "$wheel"

cd "$work"   # outside the checkout: nothing can fall back to the repository's data/
"$bin/python" - <<'PY'
import framescope.data.resources as b, framescope
assert "site-packages" in b.bundled_dir().as_posix(), b.bundled_dir()
assert "site-packages" in framescope.__file__, framescope.__file__
PY
"$bin/framescope" data validate
# serve is an extra: without it the command is listed and says what to install
"$bin/framescope" serve --help > /dev/null
if "$bin/framescope" serve --model nowhere 2> serve.err; then echo "wheel-check: serve ran without its extra"; exit 1; fi
grep -q "pip install 'framescope\[serve\]'" serve.err || { cat serve.err; exit 1; }
"$bin/framescope" data validate --taxonomy default "$("$bin/python" -c 'from framescope.data import bundled; print(bundled("samples", "articles.jsonl"))')"

# a labelled CSV in the Hugging Face convention (a `label` column) keeps its labels when split
"$bin/python" - <<'PY'
import csv, random
rng = random.Random(0)
words = {"alpha": "apples orchard harvest", "beta": "boats harbour sailing", "gamma": "guitars concert music"}
with open("toy.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["id", "article_id", "text", "label"])
    for i in range(90):
        lab = rng.choice(sorted(words))
        w.writerow([f"t{i}", f"a{i // 2}", f"Item {i}: the {words[lab]} story number {i}.", lab])
PY
"$bin/framescope" data split toy.csv --out splits --seed 13
"$bin/python" - <<'PY'
import json
rows = [json.loads(l) for f in ("train", "dev", "test") for l in open(f"splits/{f}.jsonl")]
assert len(rows) == 90 and all(r.get("labels") for r in rows), "labels lost in the split"
PY

# a tiny random-weight backbone built from a config (offline), then train, score, report
"$bin/python" - <<'PY'
import torch
from transformers import AutoTokenizer, BertConfig, BertModel
from framescope.modeling import resolve_base
torch.manual_seed(0)
tok = AutoTokenizer.from_pretrained(resolve_base(None))
BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=48)).save_pretrained("tiny")
tok.save_pretrained("tiny")
PY
"$bin/framescope" train --train splits/train.jsonl --dev splits/dev.jsonl --test splits/test.jsonl \
  --base tiny --out models/toy --epochs 1 --max-length 32 --freeze-layers 0 -q
"$bin/framescope" score --model models/toy splits/test.jsonl --out scores/s.jsonl --level both -q
"$bin/framescope" report scores/s.jsonl scores/s.articles.jsonl --out report --no-progress > /dev/null
test -s report/report.html
echo "wheel-check: OK in $(( $(date +%s) - start ))s (wheel installed into a fresh venv, run outside the checkout)"
