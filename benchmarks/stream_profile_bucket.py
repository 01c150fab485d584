"""RSS per stage of scoring one bucket: python benchmarks/stream_profile_bucket.py BUCKETS_ROOT MODEL AS_OF [KEY=VALUE ...]"""
import sys, time, threading, importlib
import psutil, pandas as pd
proc = psutil.Process(); peak = [0]
def sampler():
    while True:
        r = proc.memory_info().rss
        peak[0] = max(peak[0], r); time.sleep(0.02)
threading.Thread(target=sampler, daemon=True).start()
def mark(l):
    print(f"{l:40s} rss={proc.memory_info().rss/2**20:6.0f} peak_since_last={peak[0]/2**20:6.0f}", flush=True); peak[0]=0
def wrap(modname, fname, where=None):
    mod = importlib.import_module(modname); orig = getattr(mod, fname)
    def inner(*a, **k):
        mark(f"> {fname}")
        try: return orig(*a, **k)
        finally: mark(f"< {fname}")
    for m in [mod] + [importlib.import_module(w) for w in (where or [])]:
        setattr(m, fname, inner)
wrap("healthscore.features", "build_features")
wrap("healthscore.scoring.engine", "explain_rows")
wrap("healthscore.scoring.engine", "plan_for_model")
wrap("healthscore.scoring.engine", "make_points_frame")
wrap("healthscore.scoring.engine", "render_drivers")
wrap("healthscore.scoring.engine", "attribute_changes")
wrap("healthscore.scoring.engine", "find_drivers")
from healthscore.config import read_params
from healthscore.io.buckets import read_bucket
from healthscore.model import load_exported
from healthscore.scoring.engine import score_date
ROOT, MODEL, AS_OF = sys.argv[1:4]
params = read_params("params.yaml", sys.argv[4:])
mark("start")
ex = load_exported(MODEL); mark("model")
t = read_bucket(ROOT, 0); mark("read_bucket")
print({k: len(t[k]) for k in t}, flush=True)
out = score_date(t, ex, as_of=pd.Timestamp(AS_OF), features=params.features, score=params.score, alerts=params.alerts, book_ranges=False)
mark("score_date")
print("points MB", out.points.memory_usage(deep=True).sum()/2**20, out.points.shape, "risk MB", out.risk_list.memory_usage(deep=True).sum()/2**20)
