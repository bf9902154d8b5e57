"""A real Label Studio round-trip: select -> Label Studio -> two annotators -> export -> import -> train.

Run with a Python that has ``label-studio`` and ``label-studio-sdk`` installed, kept out of the
framescope venv (``python3 -m venv /work/lsvenv && /work/lsvenv/bin/pip install
label-studio==1.23.2 label-studio-sdk==2.1.2``); framescope is called as a subprocess from
``.venv`` (or ``$FRAMESCOPE_VENV``):

    /work/lsvenv/bin/python bench/label_roundtrip.py [--model models/default] [--n 20]

Steps (each timed): without ``--model``, a tiny random-weight BERT is trained 1 epoch on the seed
data (fast, and as good as random: the bench measures the plumbing, not quality);
``framescope label select`` picks ``--n`` passages of ``data/samples``; a throwaway local Label
Studio (temp data dir, free port, stopped in ``finally``) gets a project from the generated
``.label-config.xml`` and the batch with its predictions; two simulated annotators answer
through the API with their own tokens (annotator 1: the taxonomy's cue words; annotator 2:
annotator 1 with seeded toggles; annotator 2 skips one task; the last task stays unannotated);
JSON, JSON_MIN and CSV are exported through the API and each imported with ``framescope label
import`` (all three must agree); the ties are adjudicated (annotator 1's answer) and the import
run again; the labels must equal the annotators' answers (no pre-annotation leaks) and the
counts must add up; then ``framescope train --from`` and ``framescope evaluate --compare`` on
the seed test split. Timings, counts, CPU and versions go to
``bench/results/label_roundtrip.json``.

``LabelStudioServer`` is also used by ``tests/fixtures/label_studio/record.py``, which recorded
the export fixtures.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_EMAIL = "annotator1@example.org"
ANNOTATOR2_EMAIL = "annotator2@example.org"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def label_studio_bin() -> Path:
    exe = Path(sys.executable).with_name("label-studio")
    if not exe.exists():
        raise SystemExit(f"label-studio is not installed beside {sys.executable}; run this script "
                         "with the Python of the venv that has label-studio and label-studio-sdk")
    return exe


class LabelStudioServer:
    """A throwaway local Label Studio: temp data dir, free port, a known admin and legacy token.

    Use as a context manager; the server is always stopped and the data dir removed on exit.
    """

    def __init__(self, *, port: int | None = None, data_dir: Path | None = None,
                 keep_data: bool = False, log: Path | None = None, timeout: float = 300.0):
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="ls-data-"))
        self.keep_data = keep_data
        self.log_path = log or self.data_dir / "server.log"
        self.timeout = timeout
        self.url = f"http://127.0.0.1:{self.port}"
        self.email = ADMIN_EMAIL
        self.password = secrets.token_urlsafe(12)
        self.token = secrets.token_hex(20)
        self.proc: subprocess.Popen | None = None
        self.started_in: float | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "LABEL_STUDIO_BASE_DATA_DIR": str(self.data_dir),
            "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
        })
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([str(label_studio_bin()), *args, "--data-dir", str(self.data_dir)],
                              env=self.env(), capture_output=True, text=True, check=check,
                              timeout=self.timeout)

    def start(self) -> LabelStudioServer:
        t0 = time.perf_counter()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")  # noqa: SIM115 (open while the server runs)
        self.proc = subprocess.Popen(
            [str(label_studio_bin()), "start", "--no-browser", "--internal-host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--username", self.email, "--password", self.password,
             "--user-token", self.token, "--enable-legacy-api-token", "--log-level", "WARNING"],
            env=self.env(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"label-studio exited with {self.proc.returncode}; "
                                   f"see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        self.started_in = time.perf_counter() - t0
                        return self
            except OSError:
                pass
            time.sleep(1.0)
        raise TimeoutError(f"label-studio did not answer /health in {self.timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        if self._own_dir and not self.keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LabelStudioServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self, token: str | None = None):
        from label_studio_sdk import LabelStudio
        return LabelStudio(base_url=self.url, api_key=token or self.token)

    def add_annotator(self, email: str) -> tuple[int, str]:
        """Create a second user in the organisation; returns (user id, its legacy API token)."""
        ls = self.client()
        user = ls.users.create(username=email.split("@")[0], email=email,
                               password=secrets.token_urlsafe(12))
        # No API hands an admin another user's token; the CLI prints it from the database.
        out = self.cli("user", "--username", email).stdout
        token = None
        for line in out.splitlines():
            if "'token':" in line:
                token = line.split("'token': '", 1)[1].split("'", 1)[0]
        if not token:
            raise RuntimeError(f"could not read the token of {email} from `label-studio user`: {out}")
        return user.id, token


# ---------------------------------------------------------------------------------------------
# The round-trip
# ---------------------------------------------------------------------------------------------


FRAMESCOPE_VENV = Path(os.environ.get("FRAMESCOPE_VENV", ROOT / ".venv"))
TINY_BASE = """
import sys, torch
from transformers import AutoTokenizer, BertConfig, BertModel
from framescope.modeling import resolve_base
torch.manual_seed(0)
tok = AutoTokenizer.from_pretrained(resolve_base(None))
config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=2, intermediate_size=48, max_position_embeddings=512)
BertModel(config).save_pretrained(sys.argv[1], safe_serialization=True)
tok.save_pretrained(sys.argv[1])
"""
TAXONOMY_JSON = """
import json, sys
from framescope.data import load_taxonomy
t = load_taxonomy(sys.argv[1])
print(json.dumps({"id": t.id, "labels": [{"id": l.id, "cues": list(l.cues)} for l in t.labels]}))
"""


def framescope(*args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    """Run the framescope CLI of the framescope venv; raise with its output when it fails."""
    cmd = [str(FRAMESCOPE_VENV / "bin" / "framescope"), *args]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}"
                           f"\n{proc.stderr[-3000:]}")
    return proc


def framescope_python(code: str, *args: str) -> str:
    return subprocess.run([str(FRAMESCOPE_VENV / "bin" / "python"), "-c", code, *args],
                          capture_output=True, text=True, check=True, cwd=ROOT).stdout


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import version
    fs = framescope_python("import framescope, torch, transformers; print(framescope.__version__, "
                           "torch.__version__, transformers.__version__)").split()
    return {"label-studio": version("label-studio"), "label-studio-sdk": version("label-studio-sdk"),
            "framescope": fs[0], "torch": fs[1], "transformers": fs[2],
            "python (label studio)": platform.python_version()}


def annotator_one(text: str, cues: dict[str, list[str]]) -> list[str]:
    """Annotator 1: a fixed rule (a label applies when one of its taxonomy cue words occurs)."""
    low = text.lower()
    return [label for label, words in cues.items() if any(w.lower() in low for w in words)]


def annotator_two(first: list[str], labels: list[str], rng: random.Random, p: float) -> list[str]:
    """Annotator 2: annotator 1 with seeded disagreements (one label toggled with chance p)."""
    if rng.random() >= p:
        return list(first)
    flip = rng.choice(labels)
    return [lab for lab in labels if (lab in first) != (lab == flip)]


def choices_result(choices: list[str]) -> list[dict]:
    if not choices:
        return []
    return [{"from_name": "frames", "to_name": "text", "type": "choices", "origin": "manual",
             "value": {"choices": choices}}]


class Timer:
    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()
                print(f"== {name}", flush=True)

            def __exit__(self, *exc):
                timer.steps[name] = round(time.perf_counter() - self.t0, 2)
                print(f"   {name}: {timer.steps[name]:.1f}s", flush=True)
        return _Step()


READ_LINE = re.compile(r"read (\d+) tasks = accepted (\d+) \+ rejected (\d+)(?: \(\+ (\d+) awaiting adjudication\))?")


def import_back(export: Path, taxonomy: str, out: Path, batch: Path, log: Path,
                *extra: str) -> dict:
    """`framescope label import` one export; returns its counts (read/accepted/rejected/tied)."""
    proc = framescope("label", "import", str(export), "--taxonomy", taxonomy, "--out", str(out),
                      "--batch", str(batch), "--on-error", "skip", *extra, log=log)
    m = READ_LINE.search(proc.stdout + proc.stderr)
    if not m:
        raise RuntimeError(f"no 'read N tasks = ...' line in:\n{proc.stdout}\n{proc.stderr}")
    read, accepted, rejected, tied = (int(g or 0) for g in m.groups())
    return {"read": read, "accepted": accepted, "rejected": rejected, "tied": tied}


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def adjudicate(path: Path, plan: dict) -> int:
    """Fill in every tie's decision as an adjudicator would (here: annotator 1's answer)."""
    rows = read_jsonl(path)
    for row in rows:
        row["decision"] = plan[row["id"]][0]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def expected_labels(plan: dict) -> dict[str, list[str]]:
    """What the import must produce: the answers both annotators gave, or the one answer when the
    other skipped, or (ties) the adjudicated decision, which is annotator 1's answer here."""
    return {pid: sorted(first) for pid, (first, _second) in plan.items()}


def check_import(labelled: Path, plan: dict, tasks: list[dict]) -> dict:
    """Compare the labelled output with what the annotators submitted and with the predictions."""
    rows = {r["id"]: sorted(r["labels"]) for r in read_jsonl(labelled)}
    want = expected_labels(plan)
    predicted = {}
    for task in tasks:
        result = (task.get("predictions") or [{}])[0].get("result") or []
        predicted[task["data"]["id"]] = sorted(c for r in result for c in r["value"]["choices"])
    leaks = 0
    for pid, labels in rows.items():
        answered = set(plan[pid][0]) | set(plan[pid][1] if plan[pid][1] != "cancel" else [])
        leaks += len([lab for lab in labels if lab in predicted.get(pid, []) and lab not in answered])
    return {
        "labelled_passages": len(rows),
        "labels_match_annotations": rows == want,
        "prediction_leaks": leaks,
        "predictions_differing_from_labels": sum(predicted.get(p) != lab for p, lab in rows.items()),
        "labels_in_output": sum(len(v) for v in rows.values()),
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="framescope model to select with and continue from (default: train "
                   "a tiny random-weight BERT on the seed data, fast and meaningless)")
    p.add_argument("--input", nargs="+", default=["data/samples/articles.jsonl"],
                   help="unlabelled input for `framescope label select`")
    p.add_argument("--taxonomy", default="default")
    p.add_argument("--n", type=int, default=20, help="passages to select")
    p.add_argument("--strategy", default="mixed")
    p.add_argument("--disagree", type=float, default=0.3,
                   help="chance that annotator 2 toggles one of annotator 1's labels")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--epochs", type=int, default=1, help="epochs of the continued training")
    p.add_argument("--workdir", help="keep the intermediate files here (default: a temp dir)")
    p.add_argument("--results", default=str(ROOT / "bench" / "results" / "label_roundtrip.json"),
                   help="timings JSON ('' to skip)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="label-roundtrip-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    log = work / "framescope.log"
    timer, counts = Timer(), {}
    rng = random.Random(args.seed)
    t_all = time.perf_counter()
    tax = json.loads(framescope_python(TAXONOMY_JSON, args.taxonomy))
    labels = [lab["id"] for lab in tax["labels"]]
    cues = {lab["id"]: lab["cues"] for lab in tax["labels"]}

    # 1. a model to select with
    with timer("model"):
        if args.model:
            model = Path(args.model).resolve()
        else:
            base, model = work / "tiny-base", work / "model-0"
            framescope_python(TINY_BASE, str(base))
            framescope("train", "--base", str(base), "--out", str(model), "--epochs", "1",
                       "--max-length", "128", "--seed", str(args.seed), "-q", log=log)

    # 2. select the next batch
    batch = work / "batch.json"
    with timer("select"):
        framescope("label", "select", "--model", str(model), *args.input, "--n", str(args.n),
                   "--strategy", args.strategy, "--seed", str(args.seed), "--out", str(batch),
                   log=log)
    tasks = json.loads(batch.read_text(encoding="utf-8"))
    config = batch.with_name(batch.stem + ".label-config.xml").read_text(encoding="utf-8")
    counts["selected"] = len(tasks)
    for task in tasks:  # the contract the importer checks
        data = task["data"]
        assert hashlib.sha1(data["text"].encode("utf-8")).hexdigest() == data["text_sha1"]

    server = LabelStudioServer(log=work / "label-studio.log")
    try:
        with timer("server start"):
            server.start()
        admin = server.client()
        with timer("project create"):
            project = admin.projects.create(title="framescope round-trip", label_config=config)
        with timer("add annotator 2"):
            _, token2 = server.add_annotator(ANNOTATOR2_EMAIL)
            second = server.client(token2)
        with timer("import tasks"):
            imported = admin.projects.import_tasks(project.id, request=tasks, return_task_ids=True)
            assert imported.task_count == len(tasks), imported
            assert imported.prediction_count == len(tasks), imported
        ls_tasks = sorted(admin.tasks.list(project=project.id), key=lambda t: t.data["rank"])

        # 3. two simulated annotators; the last task stays unannotated, annotator 2 skips one
        plan = {}
        with timer("annotate"):
            for i, task in enumerate(ls_tasks[:-1]):
                first = annotator_one(task.data["text"], cues)
                two = "cancel" if i == 1 else annotator_two(first, labels, rng, args.disagree)
                plan[task.data["id"]] = (first, two)
                admin.annotations.create(task.id, result=choices_result(first), lead_time=5.0)
                if two == "cancel":
                    second.annotations.create(task.id, result=[], was_cancelled=True, lead_time=1.0)
                else:
                    second.annotations.create(task.id, result=choices_result(two), lead_time=6.0)
        counts["annotated_tasks"] = len(plan)
        counts["annotations"] = 2 * len(plan)
        counts["cancelled"] = 1
        counts["unannotated_tasks"] = len(ls_tasks) - len(plan)

        # 4. export through the API, exactly as a user would download it
        exports = {}
        with timer("export"):
            for fmt, name in (("JSON", "export.json"), ("JSON_MIN", "export-min.json"),
                              ("CSV", "export.csv")):
                data = b"".join(admin.projects.exports.download_sync(
                    project.id, export_type=fmt, download_all_tasks=True))
                exports[fmt] = work / name
                exports[fmt].write_bytes(data)
    finally:
        server.stop()

    # 5. import back: every format, then the ties adjudicated and the JSON export imported again
    labelled = work / "labelled.jsonl"
    with timer("framescope import"):
        first = import_back(exports["JSON"], args.taxonomy, labelled, batch, log)
    counts["import_first_pass"] = first
    for fmt, name in (("JSON_MIN", "labelled-min.jsonl"), ("CSV", "labelled-csv.jsonl")):
        other = import_back(exports[fmt], args.taxonomy, work / name, batch, log)
        same = ({r["id"]: r["labels"] for r in read_jsonl(work / name)}
                == {r["id"]: r["labels"] for r in read_jsonl(labelled)})
        counts[f"import_{fmt.lower()}_same_as_json"] = same and other == first
    with timer("adjudicate + import again"):
        counts["adjudicated"] = adjudicate(labelled.with_name("labelled.adjudication.jsonl"), plan)
        final = import_back(exports["JSON"], args.taxonomy, labelled, batch, log)
    counts.update(final)
    counts.update(check_import(labelled, plan, tasks))
    counts["counts_add_up"] = (
        final["read"] == final["accepted"] + final["rejected"] + final["tied"] == len(tasks)
        and final["tied"] == 0 and final["accepted"] == counts["annotated_tasks"]
        and final["rejected"] == counts["unannotated_tasks"]
        and first["accepted"] + first["tied"] == counts["annotated_tasks"])

    # 6. continue training and evaluate
    model2 = work / "model-1"
    with timer("train --from"):
        framescope("train", "--from", str(model), "--train", str(labelled), "--dev",
                   "data/seed/dev.jsonl", "--out", str(model2), "--epochs", str(args.epochs),
                   "--max-length", "128", "--seed", str(args.seed), "-q", log=log)
    with timer("evaluate"):
        framescope("evaluate", "--model", str(model2), "--compare", str(model), "--data",
                   "data/seed/test.jsonl", "--out", str(work / "eval"), "--baseline", "none",
                   "--no-reports", "--bootstrap", "100", log=log)
    metrics = json.loads((work / "eval" / "metrics.json").read_text())

    result = {
        "what": "bench/label_roundtrip.py: select -> Label Studio -> 2 annotators -> export -> "
                "import -> train --from -> evaluate",
        "command": " ".join([Path(sys.executable).name, "bench/label_roundtrip.py",
                             *(argv if argv is not None else sys.argv[1:])]),
        "cpu": cpu_name(), "cores": os.cpu_count(), "versions": versions(),
        "model": str(args.model or "tiny random-weight BERT trained 1 epoch on data/seed"),
        "n": args.n, "strategy": args.strategy, "seed": args.seed,
        "counts": counts, "timings_s": timer.steps,
        "total_s": round(time.perf_counter() - t_all, 2),
        "test_macro_f1": {"before (--model)": _macro_f1(metrics, "compare"),
                          "after (train --from)": _macro_f1(metrics, "model")},
        "workdir": str(work),
    }
    print(json.dumps(result, indent=2))
    if args.results:
        Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        Path(args.results).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _macro_f1(metrics: dict, system: str):
    try:
        return round(metrics["systems"][system]["overall"]["macro_f1"], 4)
    except (KeyError, TypeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
