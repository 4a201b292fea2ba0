#!/usr/bin/env python3
"""Writes src/stocks/listed.csv: the TWSE and TPEx listed stocks and ETFs
(code, short name, market, industry group) that `stock:` and `sector:` match.

Source: the `twstock` package on PyPI (MIT), which ships both exchanges'
lists as `twstock/codes/twse_equities.csv` and `tpex_equities.csv`. Refresh:
    python3 scripts/refresh-listed.py            # the pinned version below
    python3 scripts/refresh-listed.py 1.5.2      # another version
then run the tests (`cargo test --locked --lib stocks`) and commit the file.

Kept: `type` 股票 (stocks), 創新板 (stocks of TWSE's innovation board; the
`-創` that TWSE appends to their names is dropped) and ETF. Left out:
warrants (上市/上櫃認購(售)權證), preferred shares (特別股), ETNs, TDRs and
the beneficiary securities (受益證券-…). Needs only Python 3 and pip.
"""
import csv
import io
import pathlib
import subprocess
import sys
import tempfile
import zipfile

VERSION = sys.argv[1] if len(sys.argv) > 1 else "1.5.1"
FILES = [("twstock/codes/twse_equities.csv", "TWSE"), ("twstock/codes/tpex_equities.csv", "TPEx")]
KEEP = {"股票", "創新板", "ETF"}

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "src/stocks/listed.csv"

with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         f"twstock=={VERSION}", "-d", tmp],
        check=True,
    )
    wheel = next(pathlib.Path(tmp).glob("twstock-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        licence = next(n for n in z.namelist() if n.upper().endswith("LICENSE"))
        copyright_line = next(
            l.strip() for l in z.read(licence).decode().splitlines() if l.startswith("Copyright")
        )
        rows, seen, counts = [], set(), {}
        for name, exchange in FILES:
            reader = csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8"))
            for r in reader:
                if r["type"] not in KEEP:
                    continue
                code, short = r["code"].strip(), r["name"].strip()
                short = short.removesuffix("-創")
                if not code or not short or code in seen:
                    continue
                seen.add(code)
                counts[exchange] = counts.get(exchange, 0) + 1
                rows.append((code, short, r["market"].strip(), r["group"].strip()))

rows.sort(key=lambda r: r[0])
buf = io.StringIO()
buf.write(
    f"# TWSE and TPEx listed stocks and ETFs: {len(rows)} rows "
    f"({counts.get('TWSE', 0)} TWSE, {counts.get('TPEx', 0)} TPEx).\n"
    f"# Source: twstock {VERSION} (PyPI), twstock/codes/twse_equities.csv and "
    "tpex_equities.csv, types 股票, 創新板 and ETF.\n"
    f"# Licence: MIT, {copyright_line}.\n"
    "# Refresh: python3 scripts/refresh-listed.py [VERSION]\n"
)
w = csv.writer(buf, lineterminator="\n")
w.writerow(["code", "name", "market", "group"])
w.writerows(rows)
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(buf.getvalue(), encoding="utf-8")
print(f"wrote {out.relative_to(root)}: {len(rows)} rows {counts}")
