"""RSS per stage of the report of a scored date: python benchmarks/stream_profile_report.py OUT_DIR MODEL REPORT_DIR [AS_OF]"""
import sys, time, threading, importlib
import psutil
proc = psutil.Process(); peak = [0]
def sampler():
    while True:
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.02)
threading.Thread(target=sampler, daemon=True).start()
def mark(l):
    print(f"{time.strftime('%T')} {l:40s} rss={proc.memory_info().rss/2**20:6.0f} peak={peak[0]/2**20:6.0f}", flush=True); peak[0]=0
def wrap(modname, fname, where=()):
    mod = importlib.import_module(modname); orig = getattr(mod, fname)
    def inner(*a, **k):
        mark(f"> {fname}")
        try: return orig(*a, **k)
        finally: mark(f"< {fname}")
    for m in [mod] + [importlib.import_module(w) for w in where]:
        setattr(m, fname, inner)
wrap("healthscore.report.inputs", "normalise_points", ["healthscore.report.inputs"])
wrap("healthscore.report.inputs", "with_standing")
wrap("healthscore.report.inputs", "point_summary")
wrap("healthscore.report.inputs", "normalise_inputs", ["healthscore.report.render"])
wrap("healthscore.report.render", "build_portfolio")
wrap("healthscore.report.render", "records_by_account")
from healthscore.config import read_params
from healthscore.report import read_report_inputs, write_report
OUT, MODEL, REPORT = sys.argv[1:4]
AS_OF = sys.argv[4] if len(sys.argv) > 4 else None
params = read_params("params.yaml", [])
mark("start")
inputs = read_report_inputs(OUT, as_of=AS_OF, model_dir=MODEL); mark("read_report_inputs")
def mb(frame):  # a frame in memory, or the file the report reads a few columns at a time
    return round(frame.memory_usage(deep=True).sum()/2**20) if hasattr(frame, "memory_usage") else "in file"
print("points MB", mb(inputs.points), inputs.points.shape, "changes MB", mb(inputs.changes),
      "risk MB", mb(inputs.risk_list), flush=True)
write_report(inputs, params.report, out_dir=REPORT); mark("write_report")
